-- update.lua: set + unset + incr in one atomic step (Store.update, and the save of a
-- dict session): remove fields, increment integer fields, write fields, renew the TTL
-- and move the indexes. Everything that can fail is checked before the first write: an
-- increment of a field that holds no integer, or that would leave the 64-bit range,
-- returns status -1 (the field's name as result) and writes nothing.
-- Result (status 1): the increments' new values, a flat list {field, digits, ...}.
-- KEYS[1]  the session hash
-- ARGV[1]  max age in ms
-- ARGV[2]  '1' = create the session when missing, '0' = report it missing (status 0)
-- ARGV[3]  '1' = replace: remove every user field not written or incremented here (a
--          dict emptied before its stored content was read), '0' = remove those named
-- ARGV[4]  n, the number of field names to remove
-- ARGV[5 .. 4+n]        field names to remove
-- ARGV[5+n]             m, the number of increments
-- ARGV[6+n .. 5+n+2m]   field, amount, field, amount, ...
-- ARGV[6+n+2m ..]       field, JSON value, field, JSON value, ...
local key, now = KEYS[1], now_ms()
local id = id_of(key)
local removals = tonumber(ARGV[4])
local increments = tonumber(ARGV[5 + removals])
local first_incr = 6 + removals
local first = first_incr + 2 * increments
local incr_names = {}
for i = 1, increments do incr_names[i] = ARGV[first_incr + 2 * i - 2] end
-- The increments' current values come with the session's own HMGET (up to SLICE of them).
local one_read = increments > 0 and increments <= SLICE
local created, old, touched, legacy, before =
  open_session(key, id, now, one_read and incr_names or nil)
local existed = created ~= nil
local head = { '__touched', now }
if not existed then
  if ARGV[2] ~= '1' then return session_reply(0, 0, old, no_values(), false) end
  created, touched = now, nil
  head = { '__created', now, '__touched', now }
end

-- The checks, before any write.
if existed and increments > 0 and not one_read then
  before = read_fields(key, incr_names, 1, increments)
end
local LIMIT = 2 ^ 63
for i = 1, increments do
  local current = before[i] or '0'
  -- What HINCRBY takes: canonical integer digits (no leading zero, no '-0', no '+').
  if not (current == '0' or string.match(current, '^%-?[1-9]%d*$')) or #current > 20 then
    return session_reply(-1, 0, old, old, incr_names[i])
  end
  -- Doubles tell an overflow apart except within a few ulps of a bound; there HINCRBY
  -- decides below, and a refusal is undone.
  local sum = tonumber(current) + tonumber(ARGV[first_incr + 2 * i - 1])
  if sum >= LIMIT + 8192 or sum < -LIMIT - 8192 then return session_reply(-1, 0, old, old, incr_names[i]) end
end
local expire_at = expiry(created, tonumber(ARGV[1]), now)
local renew = not (touched and covered(redis.call('PTTL', key), expire_at, now))

-- The writes.
local results = {}
for i = 1, increments do
  local field = incr_names[i]
  local ok, value = pcall(redis.call, 'HINCRBY', key, field, ARGV[first_incr + 2 * i - 1])
  if not ok then
    -- Undo the increments done (the hash as it was, byte for byte), then report.
    if not existed then
      redis.call('DEL', key)
    else
      for j = 1, i - 1 do
        if before[j] then
          redis.call('HSET', key, incr_names[j], before[j])
        else
          redis.call('HDEL', key, incr_names[j])
        end
      end
    end
    -- The error is a table on Redis 6, a string on 7.
    local message = type(value) == 'table' and value.err or tostring(value)
    if string.find(message, 'overflow', 1, true) or string.find(message, 'not an integer', 1, true) then
      return session_reply(-1, 0, old, old, field)
    end
    -- Redis refused the first write (OOM); on Redis 6 the code follows a location prefix.
    local oom = string.find(message, 'OOM', 1, true)
    return redis.error_reply(oom and string.sub(message, oom) or message)
  end
  -- Exact digits: a Lua number holds integers exactly only up to 2^53.
  if math.abs(value) < 2 ^ 53 then
    value = string.format('%d', value)
  else
    value = redis.call('HGET', key, field)
  end
  results[#results + 1] = field
  results[#results + 1] = value
end
local drop = {}
if ARGV[3] == '1' then
  local kept = {}
  for i = first, #ARGV, 2 do kept[ARGV[i]] = true end
  for i = 1, increments do kept[incr_names[i]] = true end
  for _, name in ipairs(redis.call('HKEYS', key)) do
    if string.sub(name, 1, 2) ~= '__' and not kept[name] then drop[#drop + 1] = name end
  end
else
  for i = 5, 4 + removals do drop[#drop + 1] = ARGV[i] end
end
if legacy then drop[#drop + 1] = '__csrf' end
-- HSET before HDEL: under OOM, Redis refuses a script's first write (an HDEL, which frees
-- memory, would let the rest through). No field is in both.
call_sliced('HSET', key, head, ARGV, first)
call_sliced('HDEL', key, {}, drop, 1)
redis.call('PEXPIREAT', key, expire_at)

-- The reference values now: removals, then increments, then writes.
local new = {}
for i, field in ipairs(REFS) do
  new[i] = old[i]
  for _, name in ipairs(drop) do
    if name == field then new[i] = false end
  end
  for j = 1, #results, 2 do
    if results[j] == field then new[i] = results[j + 1] end
  end
end
new = written_values(new, first)
local score = score_for(expire_at, now)
local joined = reindex(old, id, new, id, score, renew, now)
--#if LIMITED
if #joined > 0 and enforce_limits(joined, new, id, now) then
  return session_reply(2, score, old, new, results)
end
--#end
return session_reply(1, score, old, new, results)
