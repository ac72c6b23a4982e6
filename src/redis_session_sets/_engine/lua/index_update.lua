-- index_update.lua: on a cluster, the index half of a write, sent after the session
-- script (which cannot reach an index in another slot). Removes and adds members, prunes
-- expired ones by score and sets the TTL to the largest score.
-- Updates of one session can arrive out of order (two requests, two connections), so:
-- a removal carries a guard (remove only while the member's score is below it, '0' =
-- always), and an add never lowers a score (ZADD GT): a late update leaves at worst a
-- stale member, which every read checks against its hash and removes, never a missing one.
-- Result: the set's size afterwards (the caller enforces a limit when it is over).
-- KEYS[1]  the index (sorted set)
-- ARGV[1]  field name (unused)
-- ARGV[2]  index value (unused)
-- ARGV[3]  n = number of removals
-- ARGV[4 .. 3+2n]  removals: id, guard
-- ARGV[4+2n ..]    adds: score, id
local prune, fix_ttl = index_ops()
local index, now = KEYS[1], now_ms()
local removals = tonumber(ARGV[3])
for i = 4, 3 + 2 * removals, 2 do
  local id, guard = ARGV[i], tonumber(ARGV[i + 1])
  if guard == 0 then
    redis.call('ZREM', index, id)
  else
    local score = redis.call('ZSCORE', index, id)
    if score and tonumber(score) < guard then redis.call('ZREM', index, id) end
  end
end
if #ARGV >= 4 + 2 * removals then
  call_sliced('ZADD', index, { 'GT' }, ARGV, 4 + 2 * removals)
end
prune(index, now)
fix_ttl(index)
return redis.call('ZCARD', index)
