-- index_delete.lua: delete one batch of an index's sessions (for delete_all). Takes
-- members from the front of the set, so repeated calls drain it without a cursor; each
-- call does at most a batch's work. Result: {sessions deleted, members processed}; 0
-- processed means done. The deleted ids are published on '<prefix>:ended',
-- space-separated, one message per batch.
-- KEYS[1]  the index (sorted set)
-- ARGV[1]  field name
-- ARGV[2]  index value
-- ARGV[3]  batch size
-- ARGV[4]  the end reason ('' = none), kept at PREFIX:e:{id} for ENDTTL ms per ended session
-- ARGV[5..] ids to keep
local prune, fix_ttl = index_ops()
local index, field, value, now = KEYS[1], ARGV[1], ARGV[2], now_ms()
local keep = {}
for i = 5, #ARGV do keep[ARGV[i]] = true end
local position = 0
for i, name in ipairs(REFS) do
  if name == field then position = i end
end
local batch, reason = tonumber(ARGV[3]), ARGV[4]
local deleted, processed, gone, ended = 0, 0, {}, {}
for _, id in ipairs(redis.call('ZRANGE', index, 0, batch + #ARGV - 5)) do
  if not keep[id] and processed < batch then
    processed = processed + 1
    local state, old = member_values(position, value, id, now)
    if state ~= 'stale' then
      old[position] = false -- out of this index with the whole batch, below
      destroy(session_key(id), id, old, now)
      ended[#ended + 1] = id
      if state == 'live' then
        deleted = deleted + 1
        if reason ~= '' then keep_reason(id, reason) end
      end
    end
    gone[#gone + 1] = id
  end
end
if #gone > 0 then call_sliced('ZREM', index, {}, gone, 1) end
prune(index, now)
fix_ttl(index)
if #ended > 0 then redis.call('PUBLISH', PREFIX .. ':ended', table.concat(ended, ' ')) end
return { deleted, processed }
