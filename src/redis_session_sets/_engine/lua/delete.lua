-- delete.lua: delete a session and its index memberships. Status 1 when it existed.
-- Result: the time of the deletion (Unix ms), which orders it against later writes of the
-- same id when the indexes are updated separately (on a cluster). The ended id is
-- published on the channel '<prefix>:ended' (open WebSockets of the session close).
-- KEYS[1]  the session hash
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  session id
local ctx = context()
local key, id, now = KEYS[1], ARGV[5], now_ms()
local created, old = open_session(ctx, key, id, now)
if not created then return { 0, 0, old, no_values(ctx), false } end
destroy(ctx, key, id, old, now)
redis.call('PUBLISH', ctx.prefix .. ':ended', id)
return { 1, 0, old, no_values(ctx), now }
