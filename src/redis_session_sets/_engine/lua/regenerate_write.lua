-- regenerate_write.lua: on a cluster, the second half of regenerate: writes the copy
-- read by regenerate_read.lua under the new id (without an older version's __csrf).
-- KEYS[1]  the new session hash
-- ARGV[1]  expiry time (Unix ms)
-- ARGV[2..] the old hash's fields and values (none: a new, empty session), then the
--           device's reserved fields (__ua, __ip) when the middleware tracks them
local key, now = KEYS[1], now_ms()
redis.call('DEL', key)
if #ARGV >= 2 then
  call_sliced('HSET', key, {}, ARGV, 2)
  redis.call('HDEL', key, '__csrf')
end
redis.call('HSETNX', key, '__created', now) -- a new session (the copy has its own)
redis.call('HSET', key, '__touched', now)
redis.call('PEXPIREAT', key, ARGV[1])
return { 1, tonumber(ARGV[1]), no_values(), ref_values(key), false }
