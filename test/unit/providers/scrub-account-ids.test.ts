import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scrubAccountIds } from '../../../src/providers/scrub-account-ids.js';

const UUID = 'c26fc127-ba09-49d3-a086-a2f26380d5e7';

test('Anthropic organization UUIDs are masked in the shapes its errors use', () => {
  const cases: Array<[string, string]> = [
    [`the rate limit for your organization (${UUID}) of 30,000 input tokens`, 'the rate limit for your organization ([REDACTED]) of 30,000 input tokens'],
    [`per minute (org: ${UUID}, model: claude-sonnet-4-5)`, 'per minute (org: [REDACTED], model: claude-sonnet-4-5)'],
    [`{"organization_id": "${UUID.toUpperCase()}"}`, '{"organization_id": "[REDACTED]"}'],
    [`Workspace ${UUID} is archived`, 'Workspace [REDACTED] is archived'],
    [`project=${UUID}; account ${UUID}; user id: ${UUID}; tenant, ${UUID}`, 'project=[REDACTED]; account [REDACTED]; user id: [REDACTED]; tenant, [REDACTED]'],
    [`subscription '${UUID}' not found`, `subscription '[REDACTED]' not found`],
  ];
  for (const [input, expected] of cases) assert.equal(scrubAccountIds(input), expected);
});

test('Anthropic prefixed ids are masked; request ids and ordinary words stay', () => {
  assert.equal(scrubAccountIds('Workspace wrkspc_01AbCdEfGhJkMnPqRsTvWxYz is over its limit'), 'Workspace wrkspc_[REDACTED] is over its limit');
  assert.equal(scrubAccountIds('key apikey_01Rj2N8SVvo6BePZj99NhmiT disabled'), 'key apikey_[REDACTED] disabled');
  const kept = `request req_011CV9zZ3kT5yWmxNDA8mhtP failed (request ${UUID}); an org-wide user_id limit`;
  assert.equal(scrubAccountIds(kept), kept);
});
