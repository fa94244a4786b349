import { existsSync } from 'node:fs';
import { describeSource, migrate } from '../migrate/migrate.js';
import { parseStoreArg, type StoreArg } from './store-arg.js';
import { createStore } from '../storage/index.js';
import type { Store } from '../storage/types.js';
import { redactSecrets } from '../storage/url-credentials.js';
import { UsageError } from './usage-error.js';

/** The `migrate` options as parseArgs returns them. */
export interface MigrateArgs {
  from?: string | undefined;
  to?: string | undefined;
  'from-prefix'?: string | undefined;
  'to-prefix'?: string | undefined;
  'from-schema'?: string | undefined;
  'to-schema'?: string | undefined;
  'from-redis'?: string | undefined;
  'to-redis'?: string | undefined;
  force?: boolean | undefined;
  'dry-run'?: boolean | undefined;
}

/** An error's message with its causes' (a store error's cause says what went wrong underneath). */
function explain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 4; e = e.cause) parts.push(e.message.replace(/\.$/, ''));
  return parts.length > 0 ? parts.join(': ') : String(err);
}

/**
 * `smartflow migrate --from STORE --to STORE [--force] [--dry-run]`: copies a gateway's state
 * between stores (src/migrate/, docs/cli.md#migrate). Exit code 0 when the counts match, 1 when
 * they do not or the copy failed or was refused; usage errors throw UsageError (exit 2).
 * Every line printed is redacted of the URLs' passwords.
 */
export async function migrateCommand(args: MigrateArgs): Promise<number> {
  const from = parseStoreArg('--from', args.from, { prefix: args['from-prefix'], schema: args['from-schema'], redis: args['from-redis'] });
  const to = parseStoreArg('--to', args.to, { prefix: args['to-prefix'], schema: args['to-schema'], redis: args['to-redis'] });
  if (from.name === to.name) throw new UsageError('--from and --to name the same store');
  // Opening a missing file would create an empty database and "migrate" nothing.
  if (from.config.type === 'sqlite' && !existsSync(from.config.path)) throw new UsageError(`--from: there is no SQLite database at ${from.config.path}`);

  const secrets = [...from.secrets, ...to.secrets];
  const print = (line: string): void => void process.stdout.write(`${redactSecrets(secrets, line)}\n`);
  const opened: Store[] = [];
  const open = async (arg: StoreArg, role: string): Promise<Store> => {
    try {
      const store = await createStore(arg.config);
      opened.push(store);
      return store;
    } catch (err) {
      throw new Error(`cannot open the ${role}, ${arg.name}`, { cause: err });
    }
  };
  try {
    const source = await open(from, 'source');
    if (args['dry-run']) {
      print(`Dry run: would copy from ${from.name} to ${to.name} (the target was not opened):`);
      await describeSource(source, print);
      return 0;
    }
    const target = await open(to, 'target');
    print(`Migrating ${from.name} -> ${to.name}`);
    return (await migrate({ source, target, sourceName: from.name, force: args.force === true, print })) ? 0 : 1;
  } catch (err) {
    process.stderr.write(`${redactSecrets(secrets, `migrate failed: ${explain(err)}`)}\n`);
    return 1;
  } finally {
    await Promise.all(opened.map((store) => store.close().catch(() => undefined)));
  }
}
