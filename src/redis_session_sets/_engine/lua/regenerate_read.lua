-- regenerate_read.lua: on a cluster, the first half of regenerate (the old and new
-- hashes live in different slots, so no single script can move the session): reads the
-- session and fixes its new expiry time. regenerate_write.lua writes the copy, then the
-- old hash is deleted. Result: {status, expire_at, old values, old values, HGETALL}.
-- KEYS[1]  the old session hash
-- ARGV[1]  max age in ms
local key, now = KEYS[1], now_ms()
local created, old = open_session(key, id_of(key), now)
if not created then return { 0, now + tonumber(ARGV[1]), old, no_values(), {} } end
return { 1, expiry(created, tonumber(ARGV[1]), now), old, old, redis.call('HGETALL', key) }
