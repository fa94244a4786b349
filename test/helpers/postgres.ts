import { randomUUID } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL the tests use (the CI machine's, trust auth, database `test`); point elsewhere with POSTGRES_URL. */
export const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A schema name no other test run uses; drop it with dropSchemas. */
export function testSchema(label = 'store'): string {
  return `sf_test_${label}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

/** Drops the schemas (and everything in them) a test run created. */
export async function dropSchemas(schemas: Iterable<string>): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
