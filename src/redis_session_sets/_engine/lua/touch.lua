-- touch.lua: renew the TTL of an existing session (and its index scores).
-- KEYS[1]  the session hash
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  session id
-- ARGV[6]  max age in ms
local ctx = context()
local key, id, now = KEYS[1], ARGV[5], now_ms()
local created, old = open_session(ctx, key, id, now)
if not created then return { 0, 0, old, no_values(ctx), false } end
redis.call('HSET', key, '__touched', now)
local expire_at = renew(ctx, key, created, tonumber(ARGV[6]), now)
reindex(ctx, old, id, old, id, expire_at, now)
return { 1, expire_at, old, old, false }
