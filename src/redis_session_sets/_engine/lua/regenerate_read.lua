-- regenerate_read.lua: on a cluster, the first half of regenerate (the old and new
-- hashes live in different slots, so no single script can move the session): reads the
-- session and fixes its new expiry time. regenerate_write.lua writes the copy, then the
-- old hash is deleted. Result: {status, expire_at, old values, old values, HGETALL}.
-- KEYS[1]  the old session hash
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  old session id
-- ARGV[6]  max age in ms
local ctx = context()
local key, id, now = KEYS[1], ARGV[5], now_ms()
local created, old = open_session(ctx, key, id, now)
local expire_at = now + tonumber(ARGV[6])
if not created then return { 0, expire_at, old, no_values(ctx), {} } end
if ctx.absolute > 0 and created + ctx.absolute < expire_at then
  expire_at = created + ctx.absolute
end
return { 1, expire_at, old, old, redis.call('HGETALL', key) }
