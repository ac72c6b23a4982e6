-- index_delete.lua: delete one batch of an index's sessions (for delete_all). Takes
-- members from the front of the set, so repeated calls drain it without a cursor.
-- Result: {sessions deleted, members processed}; 0 processed means done. The deleted
-- ids are published on '<prefix>:ended', space-separated, one message per batch.
-- KEYS[1]  the index (sorted set)
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  field name
-- ARGV[6]  index value
-- ARGV[7]  batch size
-- ARGV[8..] ids to keep
local ctx = context()
local index, field, value, now = KEYS[1], ARGV[5], ARGV[6], now_ms()
local keep = {}
for i = 8, #ARGV do keep[ARGV[i]] = true end
redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
local batch = tonumber(ARGV[7])
local deleted, processed, ended = 0, 0, {}
for _, id in ipairs(redis.call('ZRANGE', index, 0, batch + #ARGV - 8)) do
  if not keep[id] then
    processed = processed + 1
    local state = member_state(ctx, field, value, id, now)
    if state == 'stale' then
      redis.call('ZREM', index, id)
    else
      destroy_by_id(ctx, id, now)
      ended[#ended + 1] = id
      if state == 'live' then deleted = deleted + 1 end
    end
  end
end
index_fix_ttl(index)
if #ended > 0 then redis.call('PUBLISH', ctx.prefix .. ':ended', table.concat(ended, ' ')) end
return { deleted, processed }
