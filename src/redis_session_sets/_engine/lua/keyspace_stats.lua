-- keyspace_stats.lua: one SCAN batch of the keys matching a pattern, summarised where
-- they are, so no key list crosses the wire. Result: {next cursor ('0' = done), keys,
-- bytes (MEMORY USAGE), members (ZCARD of sorted sets, 0 for other types)}.
-- Single server only: SCAN walks the node the script runs on.
-- KEYS     none (the keys are found by SCAN)
-- ARGV[1]  cursor ('0' to start)
-- ARGV[2]  MATCH pattern
-- ARGV[3]  COUNT hint
local reply = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
local bytes, members = 0, 0
for _, key in ipairs(reply[2]) do
  bytes = bytes + (redis.call('MEMORY', 'USAGE', key) or 0)
  if redis.call('TYPE', key)['ok'] == 'zset' then
    members = members + redis.call('ZCARD', key)
  end
end
return { reply[1], #reply[2], bytes, members }
