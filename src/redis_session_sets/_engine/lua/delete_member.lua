-- delete_member.lua: on a cluster, delete one session met in an index (for delete_all),
-- but only if it still holds the index's value: checked and deleted atomically in the
-- session's slot. The caller then updates the indexes from the old values returned.
-- Status: 1 deleted, 2 deleted as past the absolute max age (not counted), 0 stale (the
-- hash is gone or holds another value; nothing deleted). Result: the time of the deletion.
-- A deleted id is published on '<prefix>:ended'.
-- KEYS[1]  the session hash
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  session id
-- ARGV[6]  field name
-- ARGV[7]  index value
local ctx = context()
local key, id, now = KEYS[1], ARGV[5], now_ms()
local state = member_state(ctx, ARGV[6], ARGV[7], id, now)
if state == 'stale' then return { 0, 0, no_values(ctx), no_values(ctx), false } end
local old = ref_values(ctx, key)
destroy(ctx, key, id, old, now)
redis.call('PUBLISH', ctx.prefix .. ':ended', id)
return { state == 'live' and 1 or 2, 0, old, no_values(ctx), now }
