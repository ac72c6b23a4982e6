-- unset.lua: remove fields (and the session from their indexes) and renew the TTL.
-- A missing session stays missing (status 0).
-- KEYS[1]  the session hash
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  session id
-- ARGV[6]  max age in ms
-- ARGV[7..] field names
local ctx = context()
local key, id, now = KEYS[1], ARGV[5], now_ms()
local created, old = open_session(ctx, key, id, now)
if not created then return { 0, 0, old, no_values(ctx), false } end
call_sliced('HDEL', key, {}, ARGV, 7)
redis.call('HSET', key, '__touched', now)
local expire_at = renew(ctx, key, created, tonumber(ARGV[6]), now)
local new = ref_values(ctx, key)
reindex(ctx, old, id, new, id, expire_at, now)
return { 1, expire_at, old, new, false }
