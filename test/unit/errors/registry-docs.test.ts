import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { ERROR_CODES, type ErrorCodeName } from '../../../src/errors/codes.js';

/**
 * The design rule: every error code the gateway can return is documented in docs/errors.md.
 * Each registry entry must appear there under both its internal name (SF_ERR_*) and the
 * `code` clients see on the wire.
 */
const DOC_PATH = fileURLToPath(new URL('../../../docs/errors.md', import.meta.url));

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whole-token match: SF_ERR_AUTH must not be satisfied by SF_ERR_AUTH_MISSING, `error` not by `upstream_error`. */
function mentions(doc: string, token: string): boolean {
  return new RegExp(`(?<![A-Za-z0-9_])${escapeRegExp(token)}(?![A-Za-z0-9_])`).test(doc);
}

describe('docs/errors.md documents the error registry', () => {
  const names = Object.keys(ERROR_CODES) as ErrorCodeName[];

  test('the registry is not empty and its wire codes are unique', () => {
    assert.ok(names.length > 0);
    const codes = names.map((n) => ERROR_CODES[n].code);
    assert.equal(new Set(codes).size, codes.length, `duplicate wire codes: ${codes.filter((c, i) => codes.indexOf(c) !== i).join(', ')}`);
  });

  test('docs/errors.md exists', () => {
    assert.ok(existsSync(DOC_PATH), `missing ${DOC_PATH}`);
  });

  const doc = existsSync(DOC_PATH) ? readFileSync(DOC_PATH, 'utf8') : '';

  test('every SF_ERR_* name and wire code appears (summary)', () => {
    const missing: string[] = [];
    for (const name of names) {
      if (!mentions(doc, name)) missing.push(name);
      if (!mentions(doc, ERROR_CODES[name].code)) missing.push(`${ERROR_CODES[name].code} (${name})`);
    }
    assert.deepEqual(missing, [], `not documented in docs/errors.md: ${missing.join(', ')}`);
  });

  for (const name of names) {
    const spec = ERROR_CODES[name];
    test(`${name} / ${spec.code}`, () => {
      assert.ok(mentions(doc, name), `${name} is not mentioned in docs/errors.md`);
      assert.ok(mentions(doc, spec.code), `wire code "${spec.code}" (${name}) is not mentioned in docs/errors.md`);
    });
  }
});
