-- touch.lua: renew the TTL of an existing session (and its index scores, unless they
-- cover the new expiry already: lib.lua, covered).
-- KEYS[1]  the session hash
-- ARGV[1]  max age in ms
local key, now = KEYS[1], now_ms()
local id = id_of(key)
local created, old, touched, legacy = open_session(key, id, now)
if not created then return { 0, 0, old, no_values(), false } end
local expire_at = expiry(created, tonumber(ARGV[1]), now)
local renew = not covered(key, touched, expire_at, now)
if legacy then redis.call('HDEL', key, '__csrf') end
redis.call('HSET', key, '__touched', now)
redis.call('PEXPIREAT', key, expire_at)
local score = score_for(expire_at, now)
reindex(old, id, old, id, score, renew, now)
return { 1, score, old, old, false }
