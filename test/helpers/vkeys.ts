import assert from 'node:assert/strict';
import { authHeaders } from './build-app.js';
import { call } from './http.js';

/** Creates a virtual key through the admin API with the master key; returns its id and the key. */
export async function createKey(url: string, body: Record<string, unknown> = {}): Promise<{ id: string; key: string; json: any }> {
  const res = await call(`${url}/api/enterprise/vkeys`, { headers: authHeaders(), body });
  assert.equal(res.status, 201, res.text);
  return { id: res.json.id, key: res.json.key, json: res.json };
}

/** Creates a team through the admin API with the master key. */
export async function createTeam(url: string, body: Record<string, unknown>): Promise<any> {
  const res = await call(`${url}/api/teams`, { headers: authHeaders(), body });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

/** A small chat request to `model` with a virtual key. */
export function chatWith(url: string, key: string, model: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  return call(`${url}/v1/chat/completions`, {
    headers: { ...authHeaders(key), ...headers },
    body: { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, ...extra },
  });
}
