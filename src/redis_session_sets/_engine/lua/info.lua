-- info.lua: a session's timestamps. Result: {created ms, touched ms, now ms, ttl ms}.
-- KEYS[1]  the session hash
-- ARGV     none
local key, now = KEYS[1], now_ms()
local id = id_of(key)
local created, old, touched = open_session(key, id, now)
if not created then return session_reply(0, 0, old, no_values(), false) end
return session_reply(1, 0, old, old, { created, touched or created, now, redis.call('PTTL', key) })
