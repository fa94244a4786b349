import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface MasterKeyResult {
  key: string;
  /** Where it came from: the config/env, an existing key file, or newly generated into the key file. */
  source: 'config' | 'file' | 'generated';
  path?: string;
}

/**
 * The master key for a start without one configured: read from the key file, or generated
 * once and written there with owner-only permissions. A gateway never runs without a key,
 * and the key never goes to the log.
 */
export function resolveMasterKey(configured: string | undefined, keyFile: string): MasterKeyResult {
  if (configured) return { key: configured, source: 'config' };
  if (existsSync(keyFile)) {
    const key = readFileSync(keyFile, 'utf8').trim();
    if (key.length >= 8) return { key, source: 'file', path: keyFile };
  }
  const key = `sk-sf-master-${randomBytes(24).toString('base64url')}`;
  mkdirSync(dirname(keyFile), { recursive: true });
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  return { key, source: 'generated', path: keyFile };
}
