-- regenerate.lua: move a session's data and index memberships to a new id. A missing
-- session becomes a new, empty one (or, when the new id already holds a session, that
-- one is renewed: a retried call). The old id, when it held a session, is published on
-- '<prefix>:ended'.
-- KEYS[1]  the old session hash
-- KEYS[2]  the new session hash
-- ARGV[1]  max age in ms
-- ARGV[2..] reserved field, JSON value, ... written with the move (the device: __ua, __ip)
local key, new_key, now = KEYS[1], KEYS[2], now_ms()
local id, new_id = id_of(key), id_of(new_key)
local created, old, touched, legacy = open_session(key, id, now)
if created then
  call_sliced('HSET', new_key, {}, redis.call('HGETALL', key), 1)
  redis.call('DEL', key)
  redis.call('PUBLISH', PREFIX .. ':ended', id)
  if legacy then redis.call('HDEL', new_key, '__csrf') end
else
  -- The old session is gone. The new one may exist already: a client that retries a
  -- call whose reply was lost runs this a second time, after the first run moved the
  -- session. Then it is renewed like any session, its index scores with it.
  local again, _, _, stale = open_session(new_key, new_id, now)
  created = again
  if not created then
    created = now
    redis.call('HSET', new_key, '__created', now)
  elseif stale then
    redis.call('HDEL', new_key, '__csrf')
  end
end
local new = ref_values(new_key)
local expire_at = expiry(created, tonumber(ARGV[1]), now)
redis.call('HSET', new_key, '__touched', now, unpack(ARGV, 2))
redis.call('PEXPIREAT', new_key, expire_at)
local score = score_for(expire_at, now)
local joined = reindex(old, id, new, new_id, score, true, now)
--#if LIMITED
if #joined > 0 and enforce_limits(joined, new, new_id, now) then
  return session_reply(2, score, old, new, false)
end
--#end
return session_reply(1, score, old, new, false)
