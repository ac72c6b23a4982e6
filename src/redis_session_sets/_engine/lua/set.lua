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
local head = { '__touched', now }
if not created then
  if ARGV[2] ~= '1' then return { 0, 0, old, no_values(), false } end
  created, touched = now, nil
  head = { '__created', now, '__touched', now }
end
local expire_at = expiry(created, tonumber(ARGV[1]), now)
local new = written_values(old, 3)
local renew = not covered(key, touched, expire_at, now)
if legacy then redis.call('HDEL', key, '__csrf') end
call_sliced('HSET', key, head, ARGV, 3)
redis.call('PEXPIREAT', key, expire_at)
local score = score_for(expire_at, now)
reindex(old, id, new, id, score, renew, now)
return { 1, score, old, new, false }
