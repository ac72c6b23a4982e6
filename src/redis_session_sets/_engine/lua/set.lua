-- set.lua: write fields, creating the session if asked to, and renew its TTL; move the
-- session between indexes when a reference value changes (a write that keeps them and
-- whose expiry the memberships' score covers sends no index command: lib.lua, covered).
-- KEYS[1]  the session hash
-- ARGV[1]  max age in ms
-- ARGV[2]  '1' = create the session when missing, '0' = report it missing (status 0)
-- ARGV[3..] field, JSON value, field, JSON value, ...
local key, now = KEYS[1], now_ms()
local id = id_of(key)
local created, old, touched, legacy = open_session(key, id, now)
local fresh = not created
if fresh then
  if ARGV[2] ~= '1' then return session_reply(0, 0, old, no_values(), false) end
  created, touched = now, nil
end
local expire_at = expiry(created, tonumber(ARGV[1]), now)
local new = written_values(old, 3)
-- Only memberships the session keeps may be covered (a moved one is written anyway).
local keeps = false
for i = 1, #REFS do
  if new[i] and new[i] == old[i] then keeps = true end
end
local renew = keeps and not (touched and covered(redis.call('PTTL', key), expire_at, now))
if #ARGV > SLICE then -- HSET first: under OOM, Redis refuses a script's first write
  call_sliced('HSET', key, fresh and { '__created', now, '__touched', now } or { '__touched', now }, ARGV, 3)
elseif fresh then
  redis.call('HSET', key, '__created', now, '__touched', now, unpack(ARGV, 3))
else
  redis.call('HSET', key, '__touched', now, unpack(ARGV, 3))
end
if legacy then redis.call('HDEL', key, '__csrf') end
redis.call('PEXPIREAT', key, expire_at)
local score = score_for(expire_at, now)
local joined = reindex(old, id, new, id, score, renew, now)
--#if LIMITED
if #joined > 0 and enforce_limits(joined, new, id, now) then
  return session_reply(2, score, old, new, false)
end
--#end
return session_reply(1, score, old, new, false)
