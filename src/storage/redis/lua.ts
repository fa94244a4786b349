import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Lua script run by its SHA1 (EVALSHA), so Redis compiles it once per server rather than once
 * per call. The text is sent again (EVAL, which also caches it) only when the server does not
 * know the script, e.g. after a restart or SCRIPT FLUSH.
 */
export class LuaScript {
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(client: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await client.call('EVALSHA', [this.sha, keys.length, ...keys, ...args]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return client.call('EVAL', [this.lua, keys.length, ...keys, ...args]);
    }
  }
}

/*
 * Documents live in three structures changed together by these scripts: a hash of JSON by id,
 * a sorted set of ids (for paging) and a hash of versions by id. A document written before
 * versions existed has no version entry and counts as version 1.
 */

/**
 * KEYS: the spend stream. ARGV: time (epoch ms), limit, the record field name. Removes the oldest
 * entries, in append order, while their record's time is before `time`, at most `limit`; stops at
 * the first newer one. Returns how many went. Decoding the records here keeps them off the wire.
 */
export const TRIM_SPEND_BEFORE = new LuaScript(`
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[2]))
local cutoff = tonumber(ARGV[1])
local last = nil
local n = 0
for _, entry in ipairs(entries) do
  local fields = entry[2]
  local time = nil
  for i = 1, #fields, 2 do
    if fields[i] == ARGV[3] then
      local ok, record = pcall(cjson.decode, fields[i + 1])
      if ok and type(record) == 'table' then time = tonumber(record['time']) end
    end
  end
  if time == nil or time >= cutoff then break end
  last = entry[1]
  n = n + 1
end
if last == nil then return 0 end
local ms, seq = string.match(last, '^(%d+)-(%d+)$')
redis.call('XTRIM', KEYS[1], 'MINID', ms .. '-' .. (tonumber(seq) + 1))
return n`);

/** KEYS: docs, id index, versions. ARGV: id, json. Inserts only a new id; returns 1 if inserted. */
export const CREATE_DOC = new LuaScript(`
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
  redis.call('HSET', KEYS[3], ARGV[1], 1)
  return 1
end
return 0`);

/** KEYS: docs, id index, versions. ARGV: id, json. Upserts and bumps the version. */
export const PUT_DOC = new LuaScript(`
local version = 1
if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  version = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '1') + 1
end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], version)
return version`);

/**
 * KEYS: docs, id index, versions. ARGV: id, json, expected version (0: must not exist).
 * Returns the new version, or 0 when the stored version differs.
 */
export const COMPARE_AND_SET_DOC = new LuaScript(`
local current = 0
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  current = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '1')
end
if current ~= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], current + 1)
return current + 1`);

/** KEYS: docs, versions. ARGV: id. Returns {json, version} or {} when absent. */
export const GET_VERSIONED_DOC = new LuaScript(`
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return {} end
return {json, redis.call('HGET', KEYS[2], ARGV[1]) or '1'}`);

/** KEYS: docs, id index, versions. ARGV: id. Returns 1 if a document went. */
export const DELETE_DOC = new LuaScript(`
local n = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return n`);

/**
 * KEYS: docs, id index, versions. ARGV: lexical start ('-' or '(' .. last id), count.
 * Returns {ids, docs, versions}: reading all in one script keeps a page consistent with concurrent writes.
 */
export const LIST_DOCS = new LuaScript(`
local ids = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))
if #ids == 0 then return {{}, {}, {}} end
return {ids, redis.call('HMGET', KEYS[1], unpack(ids)), redis.call('HMGET', KEYS[3], unpack(ids))}`);

/** KEYS: counter. ARGV: delta, ttl_ms. The TTL is set only when this call creates the counter. */
export const INCR_WITH_TTL = new LuaScript(`
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value`);

/**
 * The guarded increment. KEYS: counters. ARGV: per key a triple (delta, limit or '' for none,
 * ttl_ms or 0 for none). Checks every limit against the values as they would be after the
 * preceding entries (a key may appear twice), then applies all increments or none.
 * Returns {1, -1, new values...} or {0, failing index (0-based), unchanged values...}.
 *
 * The epoch variant (the layered store's counters, storage/layered/) takes one more key, the
 * epoch key, and one more argument, the epoch the caller expects: when the key holds another
 * epoch or none (Redis lost its data) nothing is changed and the reply is {2, current epoch or
 * false}; otherwise the reply gains the epoch as its last element.
 */
function guardedIncrementLua(epoch: boolean): string {
  return `
local n = #KEYS${epoch ? ` - 1
local epoch = redis.call('GET', KEYS[#KEYS])
if epoch ~= ARGV[#ARGV] then return {2, epoch} end` : ''}
local stored = {}
local pending = {}
local values = {}
for i = 1, n do
  local key = KEYS[i]
  if stored[key] == nil then stored[key] = redis.call('GET', key) end
  local current = pending[key]
  if current == nil then current = tonumber(stored[key] or '0') end
  local delta = tonumber(ARGV[3 * i - 2])
  local limit = tonumber(ARGV[3 * i - 1])
  local nextValue = current + delta
  if limit ~= nil and delta > 0 and nextValue > limit then
    local out = {0, i - 1}
    for j = 1, n do out[j + 2] = tonumber(stored[KEYS[j]] or redis.call('GET', KEYS[j]) or '0') end${epoch ? `
    out[n + 3] = epoch` : ''}
    return out
  end
  pending[key] = nextValue
  values[i] = nextValue
end
local created = {}
for i = 1, n do
  local key = KEYS[i]
  redis.call('INCRBY', key, ARGV[3 * i - 2])
  local ttl = tonumber(ARGV[3 * i])
  if stored[key] == false and not created[key] then
    created[key] = true
    if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  end
end
local out = {1, -1}
for i = 1, n do out[i + 2] = values[i] end${epoch ? `
out[n + 3] = epoch` : ''}
return out`;
}

export const GUARDED_INCREMENT = new LuaScript(guardedIncrementLua(false));
export const EPOCH_GUARDED_INCREMENT = new LuaScript(guardedIncrementLua(true));

/** Every script the store uses, loaded at connect so the first calls need no NOSCRIPT round trip. */
export const ALL_SCRIPTS = [CREATE_DOC, PUT_DOC, COMPARE_AND_SET_DOC, GET_VERSIONED_DOC, DELETE_DOC, LIST_DOCS, INCR_WITH_TTL, GUARDED_INCREMENT, TRIM_SPEND_BEFORE];
