-- info.lua: a session's timestamps. Result: {created ms, touched ms, now ms, ttl ms}.
-- KEYS[1]  the session hash
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  session id
local ctx = context()
local key, id, now = KEYS[1], ARGV[5], now_ms()
local created, old = open_session(ctx, key, id, now)
if not created then return { 0, 0, old, no_values(ctx), false } end
local touched = redis.call('HGET', key, '__touched') or created
return { 1, 0, old, old, { created, tonumber(touched), now, redis.call('PTTL', key) } }
