import type { Resealer } from '../../crypto/resealer.js';
import { allDocs } from '../../storage/all-docs.js';
import type { Store } from '../../storage/types.js';
import { updateDoc } from '../../storage/update-doc.js';
import { AUTH_SECRET_FIELDS, type McpServerRecord } from '../server-record.js';
import type { McpAuth } from '../server-schema.js';

/** What a rotation changed in the MCP documents (values that did not open are the resealer's `unreadable`). */
export interface McpResealReport {
  servers: number;
  user_tokens: number;
  oauth_clients: number;
  /** Cache entries dropped (client-credentials tokens, pending consent states): they are fetched or started again. */
  dropped_entries: number;
}

/**
 * Re-encrypts every MCP secret at rest from one secret-box key to another (`smartflow secrets
 * rotate`): server header/env values and client secrets, per-user access and refresh tokens,
 * dynamically registered client secrets. Each document is rewritten with compare-and-set, so a
 * concurrent admin change is not lost. Cached client-credentials tokens and pending consent
 * states are dropped rather than re-sealed: they are short-lived and come back on their own.
 */
export async function resealMcpSecrets(store: Store, resealer: Resealer): Promise<McpResealReport> {
  const report: McpResealReport = { servers: 0, user_tokens: 0, oauth_clients: 0, dropped_entries: 0 };
  const move = resealer.move;
  for (const { id } of await allDocs<McpServerRecord>(store, 'mcp_servers')) {
    await updateDoc<McpServerRecord>(store, 'mcp_servers', id, (r) => {
      const next: McpServerRecord = { ...r };
      for (const field of ['headers', 'env'] as const) {
        if (r[field]) next[field] = Object.fromEntries(Object.entries(r[field]).map(([name, v]) => [name, move(v, `${id}/${field}/${name}`, `mcp_servers/${id}/${field}.${name}`)]));
      }
      for (const field of AUTH_SECRET_FIELDS) {
        const sealed = (r.auth as Partial<Record<string, string>> | undefined)?.[field];
        if (sealed) next.auth = { ...next.auth!, [field]: move(sealed, `${id}/auth/${field}`, `mcp_servers/${id}/auth.${field}`) } as McpAuth;
      }
      return next;
    });
    report.servers += 1;
  }
  for (const { id } of await allDocs<{ access_token: string; refresh_token?: string }>(store, 'mcp_user_tokens')) {
    await updateDoc<{ access_token: string; refresh_token?: string }>(store, 'mcp_user_tokens', id, (d) => ({
      ...d,
      access_token: move(d.access_token, `mcp_user_tokens/${id}/access`, `mcp_user_tokens/${id}/access`),
      ...(d.refresh_token ? { refresh_token: move(d.refresh_token, `mcp_user_tokens/${id}/refresh`, `mcp_user_tokens/${id}/refresh`) } : {}),
    }));
    report.user_tokens += 1;
  }
  for (const { id, doc } of await allDocs<{ client_secret?: string }>(store, 'mcp_oauth_clients')) {
    if (!doc.client_secret) continue;
    await updateDoc<{ client_secret?: string }>(store, 'mcp_oauth_clients', id, (d) => ({ ...d, ...(d.client_secret ? { client_secret: move(d.client_secret, `mcp_oauth_clients/${id}`, `mcp_oauth_clients/${id}`) } : {}) }));
    report.oauth_clients += 1;
  }
  report.dropped_entries += await store.deleteEntriesByPrefix('mcp-cc-token:');
  report.dropped_entries += await store.deleteEntriesByPrefix('mcp-oauth-state:');
  return report;
}
