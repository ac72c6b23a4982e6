-- regenerate_write.lua: on a cluster, the second half of regenerate: writes the copy
-- read by regenerate_read.lua under the new id, rotating the CSRF secret (if any).
-- KEYS[1]  the new session hash
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  new session id
-- ARGV[6]  expiry time (Unix ms)
-- ARGV[7]  the new CSRF secret
-- ARGV[8..] the old hash's fields and values (none: a new, empty session)
local ctx = context()
local key, now = KEYS[1], now_ms()
redis.call('DEL', key)
if #ARGV >= 8 then
  call_sliced('HSET', key, {}, ARGV, 8)
  if redis.call('HEXISTS', key, '__csrf') == 1 then
    redis.call('HSET', key, '__csrf', ARGV[7])
  end
else
  redis.call('HSET', key, '__created', now)
end
redis.call('HSET', key, '__touched', now)
redis.call('PEXPIREAT', key, ARGV[6])
return { 1, tonumber(ARGV[6]), no_values(ctx), ref_values(ctx, key), false }
