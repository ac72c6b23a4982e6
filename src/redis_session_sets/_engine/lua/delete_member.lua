-- delete_member.lua: on a cluster, delete one session met in an index (for delete_all),
-- but only if it still holds the index's value: checked and deleted atomically in the
-- session's slot. The caller then updates the indexes from the old values returned.
-- Status: 1 deleted, 2 deleted as past the absolute max age (not counted), 0 stale (the
-- hash is gone or holds another value; nothing deleted). Result: the time of the deletion.
-- A deleted id is published on '<prefix>:ended'.
-- KEYS[1]  the session hash
-- ARGV[1]  field name
-- ARGV[2]  index value
-- ARGV[3]  the end reason ('' = none), kept at PREFIX:e:{id} for ENDTTL ms when live
local key, now = KEYS[1], now_ms()
local id = id_of(key)
local state = member_state(ARGV[1], ARGV[2], id, now)
if state == 'stale' then return { 0, 0, no_values(), no_values(), false } end
local old = ref_values(key)
destroy(key, id, old, now)
if state == 'live' and ARGV[3] ~= '' then keep_reason(id, ARGV[3]) end
redis.call('PUBLISH', PREFIX .. ':ended', id)
return { state == 'live' and 1 or 2, 0, old, no_values(), now }
