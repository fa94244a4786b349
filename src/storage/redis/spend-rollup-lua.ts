import { LuaScript } from './lua.js';

/*
 * The Redis store's daily spend rollups (spend/spend-rollup.ts): a hash per UTC day, one field
 * per key, team and model (the group as JSON) holding the seven totals as one string of integers,
 * "requests errors input cached output cost_micros last_used", and a sorted set of the days that
 * have one (summaries and retention read ranges of days). Lua numbers are doubles: exact for
 * these integers, and `%d` prints them whole.
 *
 * The raw rows a write adds are summed per group in the gateway (spend/spend-rollup.ts rollUp);
 * the scripts below add those sums in the same script as the rows themselves. Stream entries
 * written with their rollups carry a marker field, so entries written without (by a gateway of an
 * earlier version) can be found and added later (spend-rollups.ts rollUpUnmarked).
 */

/** The field that marks a stream entry whose record is in the rollups. */
export const ROLLED_UP = 'u';

/**
 * `rollups(k, o)`: KEYS[k] is the day index and KEYS[k + d] the hash of the d-th day; ARGV from
 * `o` holds the mode ('add' adds to what is stored, 'set' replaces it), the number of days, the
 * days, then per row: its day's number (1-based), the group field and the seven totals.
 */
const ROLLUPS_LUA = `
local function rollups(k, o)
  local mode = ARGV[o]
  local days = tonumber(ARGV[o + 1])
  for d = 1, days do redis.call('ZADD', KEYS[k], ARGV[o + 1 + d], ARGV[o + 1 + d]) end
  for j = o + 2 + days, #ARGV, 9 do
    local key = KEYS[k + tonumber(ARGV[j])]
    local v = {}
    for x = 1, 7 do v[x] = tonumber(ARGV[j + 1 + x]) end
    if mode == 'add' then
      local stored = redis.call('HGET', key, ARGV[j + 1])
      if stored then
        local x = 1
        for part in string.gmatch(stored, '%-?%d+') do
          local c = tonumber(part)
          if x == 7 then v[7] = math.max(v[7], c) else v[x] = v[x] + c end
          x = x + 1
        end
      end
    end
    redis.call('HSET', key, ARGV[j + 1], string.format('%d %d %d %d %d %d %d', v[1], v[2], v[3], v[4], v[5], v[6], v[7]))
  end
end
`;

/**
 * `chase(mark, before, last)` moves the "rolled up to" mark (the stream id up to which every
 * entry is in the rollups) to `last`, this write's newest entry, when it stood at `before`, the
 * newest entry before this write (`newest(stream)`); otherwise an entry not yet in the rollups
 * lies between, and the mark waits for rollUpUnmarked.
 */
const CHASE_LUA = `
local function newest(stream)
  local entries = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  return entries[1] and entries[1][1] or ''
end
local function chase(mark, before, last)
  if last and (redis.call('GET', mark) or '') == before then redis.call('SET', mark, last) end
end
`;

/**
 * The spend-log append. KEYS: the stream, the "rolled up to" mark, the day index, the day hashes.
 * ARGV: the stream's cap, the record field, the number of records n, the n records as JSON (in
 * append order), then the rollups ('add'). Appends, trims to about the cap, adds the rollups, all
 * at once; returns how many of the oldest entries the trim removed. `MAXLEN ~` removes whole
 * stream nodes only (cheap), at most 100 nodes per call.
 */
export const APPEND_SPEND = new LuaScript(`${ROLLUPS_LUA}${CHASE_LUA}
local before = newest(KEYS[1])
local n = tonumber(ARGV[3])
local last = nil
for i = 1, n do last = redis.call('XADD', KEYS[1], '*', ARGV[2], ARGV[3 + i], '${ROLLED_UP}', '1') end
local evicted = redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[1])
chase(KEYS[2], before, last)
rollups(3, 4 + n)
return evicted`);

/**
 * The migration's import. KEYS and ARGV as APPEND_SPEND's, without the cap, each record preceded
 * by its time. Each entry's id is its record's time, or the next id after the stream's last when
 * that time is not newer (ids must grow; a source that keeps append order, Redis, may go back in
 * time). Ids from the time, not from the clock, keep time-range queries, which bound their scan
 * by id, and retention finding the copied rows.
 */
export const IMPORT_SPEND = new LuaScript(`${ROLLUPS_LUA}${CHASE_LUA}
local before = newest(KEYS[1])
local ms, seq = '0', 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      local a, b = string.match(info[i + 1], '^(%d+)-(%d+)$')
      ms, seq = a, tonumber(b)
    end
  end
end
local n = tonumber(ARGV[2])
local last = nil
for i = 1, n do
  local time = ARGV[1 + 2 * i]
  if tonumber(time) > tonumber(ms) then ms, seq = time, 0 else seq = seq + 1 end
  last = redis.call('XADD', KEYS[1], ms .. '-' .. seq, ARGV[1], ARGV[2 + 2 * i], '${ROLLED_UP}', '1')
end
chase(KEYS[2], before, last)
rollups(3, 3 + 2 * n)
return n`);

/** KEYS: the day index, the day hashes. ARGV: the rollups ('set'). Store.importSpendRollups. */
export const WRITE_ROLLUPS = new LuaScript(`${ROLLUPS_LUA}
rollups(1, 1)
return 1`);

/**
 * KEYS: the stream, the "rolled up to" mark. ARGV: count, the record field. Reads up to `count`
 * entries after the mark and returns {mark, last id read or false, records of the unmarked ones}:
 * only what still needs adding crosses the wire.
 */
export const READ_UNMARKED = new LuaScript(`
local mark = redis.call('GET', KEYS[2]) or ''
local entries = redis.call('XRANGE', KEYS[1], mark == '' and '-' or '(' .. mark, '+', 'COUNT', tonumber(ARGV[1]))
local records = {}
for _, entry in ipairs(entries) do
  local fields = entry[2]
  local record, marked = nil, false
  for i = 1, #fields, 2 do
    if fields[i] == '${ROLLED_UP}' then marked = true elseif fields[i] == ARGV[2] then record = fields[i + 1] end
  end
  if record and not marked then records[#records + 1] = record end
end
return {mark, entries[#entries] and entries[#entries][1] or false, records}`);

/**
 * KEYS: the "rolled up to" mark, the day index, the day hashes. ARGV: the mark READ_UNMARKED
 * read, the last id it read, then the rollups of its records ('add'). Adds them and moves the
 * mark only if no one moved it meanwhile (another gateway doing the same); returns 1 if so.
 */
export const ADD_UNMARKED = new LuaScript(`${ROLLUPS_LUA}
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
rollups(2, 3)
return 1`);
