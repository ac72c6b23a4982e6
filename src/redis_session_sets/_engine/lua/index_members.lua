-- index_members.lua: on a cluster, an index's unexpired members with their scores, for
-- the caller to check against their hashes (a script here cannot reach the hashes,
-- which live in other slots). Result: {now ms, next cursor ('0' = done), {id, score, ...}}.
-- KEYS[1]  the index (sorted set)
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  field name (unused: the caller checks the hashes)
-- ARGV[6]  index value (unused)
-- ARGV[7]  'range': prune expired members, then ARGV[8], ARGV[9] = ZRANGE start, stop
--          'scan':  ARGV[8] = ZSCAN cursor, ARGV[9] = batch size (COUNT hint); ZSCAN
--                   walks by hash bucket, so renewed scores neither skip nor repeat members
local index, now = KEYS[1], now_ms()
if ARGV[7] == 'range' then
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  local members = redis.call('ZRANGE', index, ARGV[8], ARGV[9], 'WITHSCORES')
  index_fix_ttl(index)
  return { now, '0', members }
end
local reply = redis.call('ZSCAN', index, ARGV[8], 'COUNT', ARGV[9])
local members = {}
for i = 1, #reply[2], 2 do
  if tonumber(reply[2][i + 1]) > now then
    members[#members + 1] = reply[2][i]
    members[#members + 1] = reply[2][i + 1]
  end
end
return { now, reply[1], members }
