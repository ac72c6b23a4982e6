-- regenerate.lua: move a session's data and index memberships to a new id, rotating
-- its CSRF secret (if it has one). A missing session becomes a new, empty one (or,
-- when the new id already holds a session, that one is renewed: a retried call). The
-- old id, when it held a session, is published on '<prefix>:ended'.
-- KEYS[1]  the old session hash
-- KEYS[2]  the new session hash
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  old session id
-- ARGV[6]  max age in ms
-- ARGV[7]  new session id
-- ARGV[8]  the new CSRF secret
local ctx = context()
local key, new_key, id, new_id, now = KEYS[1], KEYS[2], ARGV[5], ARGV[7], now_ms()
local created, old = open_session(ctx, key, id, now)
if created then
  call_sliced('HSET', new_key, {}, redis.call('HGETALL', key), 1)
  redis.call('DEL', key)
  redis.call('PUBLISH', ctx.prefix .. ':ended', id)
  if redis.call('HEXISTS', new_key, '__csrf') == 1 then
    redis.call('HSET', new_key, '__csrf', ARGV[8])
  end
else
  -- The old session is gone. The new one may exist already: a client that retries a
  -- call whose reply was lost runs this a second time, after the first run moved the
  -- session. Then it is renewed like any session, its index scores with it.
  created = open_session(ctx, new_key, new_id, now)
  if not created then
    created = now
    redis.call('HSET', new_key, '__created', now)
  end
end
local new = ref_values(ctx, new_key)
redis.call('HSET', new_key, '__touched', now)
local expire_at = renew(ctx, new_key, created, tonumber(ARGV[6]), now)
reindex(ctx, old, id, new, new_id, expire_at, now)
return { 1, expire_at, old, new, false }
