-- delete.lua: delete a session and its index memberships. Status 1 when it existed.
-- Result: the time of the deletion (Unix ms), which orders it against later writes of the
-- same id when the indexes are updated separately (on a cluster). The ended id is
-- published on the channel '<prefix>:ended' (open WebSockets of the session close).
-- With a reason, it is kept at PREFIX:e:{id} for ENDTTL ms (only when a session ended).
-- KEYS[1]  the session hash
-- ARGV[1]  the reason (optional)
local key, now = KEYS[1], now_ms()
local id = id_of(key)
local created, old = open_session(key, id, now)
if not created then return session_reply(0, 0, old, no_values(), false) end
destroy(key, id, old, now)
if ARGV[1] then keep_reason(id, ARGV[1]) end
redis.call('PUBLISH', PREFIX .. ':ended', id)
return session_reply(1, 0, old, no_values(), now)
