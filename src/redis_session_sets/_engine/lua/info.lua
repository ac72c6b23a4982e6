-- info.lua: a session's timestamps and device. Result: {created ms, touched ms, now ms,
-- ttl ms, __ua, __ip} (false for a field the hash lacks).
-- KEYS[1]  the session hash
-- ARGV     none
local key, now = KEYS[1], now_ms()
local id = id_of(key)
local created, old, touched = open_session(key, id, now)
if not created then return session_reply(0, 0, old, no_values(), false) end
local device = redis.call('HMGET', key, '__ua', '__ip')
return session_reply(1, 0, old, old, { created, touched or created, now, redis.call('PTTL', key), device[1], device[2] })
