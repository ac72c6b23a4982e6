-- info.lua: a session's timestamps and device. Result: {created ms, touched ms, now ms,
-- ttl ms, __ua, __ip} (false for a field the hash lacks).
-- KEYS[1]  the session hash
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  session id
local ctx = context()
local key, id, now = KEYS[1], ARGV[5], now_ms()
local created, old = open_session(ctx, key, id, now)
if not created then return { 0, 0, old, no_values(ctx), false } end
local got = redis.call('HMGET', key, '__touched', '__ua', '__ip')
local touched = tonumber(got[1]) or created
return { 1, 0, old, old, { created, touched, now, redis.call('PTTL', key), got[2], got[3] } }
