-- set_plain.lua: write fields none of which is a reference field (or none at all: touch),
-- renewing the TTL. The hot path of a session store: a write whose memberships' score
-- covers the new expiry (lib.lua, covered) runs TIME, PTTL, HSET, HDEL (of an older
-- version's __csrf) and PEXPIREAT, nothing more, and the helpers it includes are leaves (no
-- upvalue to make per call).
-- KEYS[1]  the session hash
-- ARGV[1]  max age in ms
-- ARGV[2]  '1' = create the session when missing, '0' = report it missing (status 0)
-- ARGV[3..] field, JSON value, field, JSON value, ... (no reference field)
local key, now = KEYS[1], now_ms()
local ttl = redis.call('PTTL', key) -- -2: no session; -1: a hash made by hand, no TTL
local created = 0 -- only the absolute max age needs it
--#if ABSOLUTE
if ttl ~= -2 then
  created = tonumber(redis.call('HGET', key, '__created')) or now -- none in a hand-made hash
  if created + ABSOLUTE <= now then
    destroy(key, id_of(key), ref_values(key), now)
    ttl = -2
  end
end
--#end
if ttl == -2 then
  if ARGV[2] ~= '1' then return session_reply(0, 0, no_values(), no_values(), false) end
  -- A new session holds no reference value: it is in no index.
  if #ARGV > SLICE then
    call_sliced('HSET', key, { '__created', now, '__touched', now }, ARGV, 3)
  else
    redis.call('HSET', key, '__created', now, '__touched', now, unpack(ARGV, 3))
  end
  redis.call('PEXPIREAT', key, expiry(now, tonumber(ARGV[1]), now))
  return session_reply(1, 0, no_values(), no_values(), false)
end
local expire_at = expiry(created, tonumber(ARGV[1]), now)
-- HSET first: Redis refuses a script's first write when out of memory (a first HDEL,
-- which frees memory, would let the rest through).
if #ARGV > SLICE then
  call_sliced('HSET', key, { '__touched', now }, ARGV, 3)
else
  redis.call('HSET', key, '__touched', now, unpack(ARGV, 3))
end
redis.call('HDEL', key, '__csrf')
redis.call('PEXPIREAT', key, expire_at)
if covered(ttl, expire_at, now) then return 1 end -- (never on a cluster: no slack there)
local score = score_for(expire_at, now)
if #REFS == 0 then return session_reply(1, score, {}, {}, false) end
-- The memberships need the new score (the first write of a slack window): written here
-- rather than through reindex, whose upvalues every call would pay for.
local names, raw = { unpack(REFS) }, redis.call('HMGET', key, unpack(REFS))
local values, joined = {}, {}
for i = 1, #REFS do
  values[i] = index_value(raw[i])
  if INLINE and values[i] then
    local _, _, add = index_ops()
    local added = add(PREFIX .. ':r:' .. names[i] .. ':{' .. values[i] .. '}', id_of(key), score, now)
    --#if LIMITED
    -- A member that was missing (removed by hand, or pruned) joins again.
    if added == 1 and LIMITS[i] > 0 then joined[#joined + 1] = i end
    --#end
  end
end
--#if LIMITED
if #joined > 0 and enforce_limits(joined, values, id_of(key), now) then
  return session_reply(2, score, values, values, false)
end
--#end
return session_reply(1, score, values, values, false)
