-- set_plain.lua: write fields none of which is a reference field (or none at all: touch),
-- renewing the TTL. The hot path of a session store: a write whose memberships' score
-- covers the new expiry (lib.lua, covered) runs TIME, HMGET, PTTL, HSET and PEXPIREAT,
-- nothing more, and the helpers it includes are leaves (no upvalue to make per call).
-- KEYS[1]  the session hash
-- ARGV[1]  max age in ms
-- ARGV[2]  '1' = create the session when missing, '0' = report it missing (status 0)
-- ARGV[3..] field, JSON value, field, JSON value, ... (no reference field)
local key, now = KEYS[1], now_ms()
--#if ABSOLUTE
local got = redis.call('HMGET', key, '__touched', '__csrf', '__created')
--#end
--#if not ABSOLUTE
local got = redis.call('HMGET', key, '__touched', '__csrf')
--#end
local touched = tonumber(got[1])
local exists = touched ~= nil or redis.call('EXISTS', key) == 1
local created = 0 -- only the absolute max age needs it
--#if ABSOLUTE
created = tonumber(got[3]) or now -- a hash made by hand has no __created
if exists and created + ABSOLUTE <= now then
  destroy(key, id_of(key), ref_values(key), now)
  exists = false
end
--#end
if not exists then
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
local renew = not covered(key, touched, expire_at, now)
if got[2] then redis.call('HDEL', key, '__csrf') end
if #ARGV > SLICE then
  call_sliced('HSET', key, { '__touched', now }, ARGV, 3)
else
  redis.call('HSET', key, '__touched', now, unpack(ARGV, 3))
end
redis.call('PEXPIREAT', key, expire_at)
local score = score_for(expire_at, now)
if not renew or #REFS == 0 then
  return session_reply(1, score, no_values(), no_values(), false)
end
-- The memberships need the new score (the first write of a slack window): written here
-- rather than through reindex, whose upvalues every call would pay for.
local names, raw = { unpack(REFS) }, redis.call('HMGET', key, unpack(REFS))
local values = {}
for i = 1, #REFS do
  values[i] = index_value(raw[i])
  if INLINE and values[i] then
    local prune, fix_ttl = index_ops()
    local index = PREFIX .. ':r:' .. names[i] .. ':{' .. values[i] .. '}'
    prune(index, now)
    redis.call('ZADD', index, score, id_of(key))
    fix_ttl(index)
  end
end
return session_reply(1, score, values, values, false)
