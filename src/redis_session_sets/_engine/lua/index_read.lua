-- index_read.lua: the live sessions of one (field, value) index, or their number.
-- Prunes expired members by score and removes members whose hash is gone or no longer
-- holds the value; sessions past the absolute max age are destroyed when met.
-- KEYS[1]  the index (sorted set)
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  field name
-- ARGV[6]  index value
-- ARGV[7]  'ids' = return the ids, 'count' = return their number
local ctx = context()
local index, field, value, now = KEYS[1], ARGV[5], ARGV[6], now_ms()
redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
local live = {}
for _, id in ipairs(redis.call('ZRANGE', index, 0, -1)) do
  local state = member_state(ctx, field, value, id, now)
  if state == 'live' then
    live[#live + 1] = id
  elseif state == 'old' then
    destroy_by_id(ctx, id, now)
  else
    redis.call('ZREM', index, id)
  end
end
index_fix_ttl(index)
if ARGV[7] == 'count' then return #live end
return live
