-- index_members.lua: on a cluster, a page of an index's unexpired members with their
-- scores, for the caller to check against their hashes (a script here cannot reach the
-- hashes, which live in other slots); expired members met are pruned. Result: {now ms,
-- next cursor ('0' = done; 'range': the set's size after the prune), {id, score, ...}}.
-- KEYS[1]  the index (sorted set)
-- ARGV[1]  field name (unused: the caller checks the hashes)
-- ARGV[2]  index value (unused)
-- ARGV[3]  'range': prune expired members (at most PRUNE), then ARGV[4], ARGV[5] =
--                   ZRANGE start, stop
--          'scan':  ARGV[4] = ZSCAN cursor, ARGV[5] = page size (COUNT); ZSCAN walks
--                   by hash bucket, so renewed scores neither skip nor repeat members
local prune, fix_ttl = index_ops()
local index, now = KEYS[1], now_ms()
if ARGV[3] == 'range' then
  prune(index, now)
  local members = redis.call('ZRANGE', index, ARGV[4], ARGV[5], 'WITHSCORES')
  fix_ttl(index)
  return { now, redis.call('ZCARD', index), members }
end
local reply = redis.call('ZSCAN', index, ARGV[4], 'COUNT', ARGV[5])
local members, dead = {}, {}
for i = 1, #reply[2], 2 do
  if tonumber(reply[2][i + 1]) > now then
    members[#members + 1] = reply[2][i]
    members[#members + 1] = reply[2][i + 1]
  else
    dead[#dead + 1] = reply[2][i] -- expired: pruned as met
  end
end
if #dead > 0 then
  call_sliced('ZREM', index, {}, dead, 1)
  fix_ttl(index)
end
return { now, reply[1], members }
