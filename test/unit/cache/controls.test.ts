import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cacheConfigSchema } from '../../../src/cache/cache-config.js';
import { cachingEnabled, planCaching, readCacheControls, type CacheControls } from '../../../src/cache/controls.js';
import { withoutCacheControls } from '../../../src/schemas/gateway-fields.js';
import { GatewayError } from '../../../src/errors/gateway-error.js';

const none: CacheControls = { noCache: false, noStore: false, ttlSeconds: undefined, namespace: undefined };

function rejects(fn: () => unknown, param: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.codeName, 'SF_ERR_INVALID_REQUEST');
    assert.equal(err.param, param);
    assert.ok(err.message.includes(param.split('.').at(-1)!), err.message);
    return true;
  });
}

describe('readCacheControls', () => {
  test('nothing asked', () => {
    assert.deepEqual(readCacheControls({}, {}), none);
    assert.deepEqual(readCacheControls({ cache: null }, {}), none);
  });

  test('the body form', () => {
    assert.deepEqual(readCacheControls({ cache: { 'no-cache': true, 'no-store': true, ttl: 600, namespace: 'team-a' } }, {}), { noCache: true, noStore: true, ttlSeconds: 600, namespace: 'team-a' });
  });

  test('the header form means the same', () => {
    const headers = { 'cache-control': 'No-Cache, no-store, max-age=600, no-transform', 'x-smartflow-cache-namespace': 'team-a' };
    assert.deepEqual(readCacheControls({}, headers), { noCache: true, noStore: true, ttlSeconds: 600, namespace: 'team-a' });
    assert.equal(readCacheControls({}, { 'x-smartflow-cache-ttl': '30' }).ttlSeconds, 30);
    assert.equal(readCacheControls({}, { 'cache-control': 'max-age=0' }).ttlSeconds, 0);
  });

  test('where both set a control, the body wins', () => {
    const c = readCacheControls({ cache: { 'no-cache': false, ttl: 5 } }, { 'cache-control': 'no-cache, no-store, max-age=99', 'x-smartflow-cache-namespace': 'h' });
    assert.deepEqual(c, { noCache: false, noStore: true, ttlSeconds: 5, namespace: 'h' });
  });

  test('a malformed body object is a 400 naming the field', () => {
    rejects(() => readCacheControls({ cache: { ttl: -1 } }, {}), 'cache.ttl');
    rejects(() => readCacheControls({ cache: { ttl: 1.5 } }, {}), 'cache.ttl');
    rejects(() => readCacheControls({ cache: { ttl: '60' } }, {}), 'cache.ttl');
    rejects(() => readCacheControls({ cache: { 'no-cache': 'yes' } }, {}), 'cache.no-cache');
    rejects(() => readCacheControls({ cache: { namespace: 'has space' } }, {}), 'cache.namespace');
    rejects(() => readCacheControls({ cache: { 's-maxage': 5 } }, {}), 'cache.s-maxage');
    rejects(() => readCacheControls({ cache: 'no-cache' }, {}), 'cache');
  });

  test('a malformed header is a 400 naming the header', () => {
    rejects(() => readCacheControls({}, { 'cache-control': 'max-age=soon' }), 'cache-control');
    rejects(() => readCacheControls({}, { 'x-smartflow-cache-ttl': '-5' }), 'x-smartflow-cache-ttl');
    rejects(() => readCacheControls({}, { 'x-smartflow-cache-namespace': 'a:b' }), 'x-smartflow-cache-namespace');
  });
});

describe('withoutCacheControls', () => {
  test('removes the cache object and leaves the caller\'s body alone', () => {
    const body = { model: 'm', cache: { ttl: 1 }, temperature: 0 };
    assert.deepEqual(withoutCacheControls(body), { model: 'm', temperature: 0 });
    assert.deepEqual(body.cache, { ttl: 1 });
    const plain = { model: 'm' };
    assert.equal(withoutCacheControls(plain), plain);
  });
});

describe('planCaching and cachingEnabled', () => {
  const config = cacheConfigSchema.parse({ enabled: true, default_ttl_seconds: 100, max_ttl_seconds: 1000, models: { slow: { ttl_seconds: 500 }, never: { enabled: false }, always: { enabled: true } } });
  const off = cacheConfigSchema.parse({ enabled: false, models: { always: { enabled: true }, never: { enabled: false } } });

  test('defaults: lookup and store in the owner\'s namespace with the default TTL; a client namespace narrows inside the owner', () => {
    assert.deepEqual(planCaching(config, 'm', none, 'team/acme'), { owner: 'team/acme', narrowed: undefined, namespace: 'team/acme', lookup: true, store: true, ttlSeconds: 100 });
    assert.equal(planCaching(config, 'm', { ...none, namespace: 'faq' }, 'team/acme').namespace, 'team/acme/faq');
  });

  test('the request TTL over the model TTL over the default, capped at max_ttl_seconds', () => {
    assert.equal(planCaching(config, 'slow', none, 'master').ttlSeconds, 500);
    assert.equal(planCaching(config, 'slow', { ...none, ttlSeconds: 20 }, 'master').ttlSeconds, 20);
    assert.equal(planCaching(config, 'm', { ...none, ttlSeconds: 99_999 }, 'master').ttlSeconds, 1000);
  });

  test('no-cache skips the lookup, no-store and a TTL of 0 skip the store', () => {
    assert.equal(planCaching(config, 'm', { ...none, noCache: true }, 'master').lookup, false);
    assert.equal(planCaching(config, 'm', { ...none, noStore: true }, 'master').store, false);
    assert.equal(planCaching(config, 'm', { ...none, ttlSeconds: 0 }, 'master').store, false);
  });

  test('a key or model that says no wins; either saying yes turns caching on when the config is off', () => {
    assert.equal(cachingEnabled(config, 'm', null), true);
    assert.equal(cachingEnabled(config, 'never', null), false);
    assert.equal(cachingEnabled(config, 'm', false), false);
    assert.equal(cachingEnabled(config, 'never', true), false);
    assert.equal(cachingEnabled(off, 'm', null), false);
    assert.equal(cachingEnabled(off, 'always', null), true);
    assert.equal(cachingEnabled(off, 'm', true), true);
    assert.equal(cachingEnabled(off, 'always', false), false);
  });
});
