-- index_update.lua: on a cluster, the index half of a write, sent after the session
-- script (which cannot reach an index in another slot). Removes and adds members, prunes
-- expired ones by score and sets the TTL to the largest score.
-- Updates of one session can arrive out of order (two requests, two connections), so:
-- a removal carries a guard (remove only while the member's score is below it, '0' =
-- always), and an add never lowers a score (ZADD GT): a late update leaves at worst a
-- stale member, which every read checks against its hash and removes, never a missing one.
-- KEYS[1]  the index (sorted set)
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  field name
-- ARGV[6]  index value
-- ARGV[7]  n = number of removals
-- ARGV[8 .. 7+2n]  removals: id, guard
-- ARGV[8+2n ..]    adds: score, id
local index, now = KEYS[1], now_ms()
local removals = tonumber(ARGV[7])
for i = 8, 7 + 2 * removals, 2 do
  local id, guard = ARGV[i], tonumber(ARGV[i + 1])
  if guard == 0 then
    redis.call('ZREM', index, id)
  else
    local score = redis.call('ZSCORE', index, id)
    if score and tonumber(score) < guard then redis.call('ZREM', index, id) end
  end
end
if #ARGV >= 8 + 2 * removals then
  redis.call('ZADD', index, 'GT', unpack(ARGV, 8 + 2 * removals))
end
redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
index_fix_ttl(index)
return 1
