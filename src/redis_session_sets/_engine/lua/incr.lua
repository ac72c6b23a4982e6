-- incr.lua: atomic increment of an integer field (HINCRBY on its JSON digits).
-- Status -1 when the field holds anything but an integer, or the sum overflows 64 bits
-- (nothing is written then).
-- KEYS[1]  the session hash
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  session id
-- ARGV[6]  max age in ms
-- ARGV[7]  '1' = create the session when missing, '0' = report it missing (status 0)
-- ARGV[8]  field name
-- ARGV[9]  amount
local ctx = context()
local key, id, now = KEYS[1], ARGV[5], now_ms()
local created, old = open_session(ctx, key, id, now)
if not created and ARGV[7] ~= '1' then return { 0, 0, old, no_values(ctx), false } end
local current = redis.call('HGET', key, ARGV[8])
if current and not string.match(current, '^%-?%d+$') then
  return { -1, 0, old, old, false }
end
local ok, value = pcall(redis.call, 'HINCRBY', key, ARGV[8], ARGV[9])
if not ok then
  -- Out of the 64-bit range is the caller's TypeError; any other failure (OOM: this
  -- may be the script's first write) is Redis's, passed on as an error reply. (The
  -- error is a table on Redis 6, a string on 7.)
  local message = type(value) == 'table' and value.err or tostring(value)
  if string.find(message, 'overflow', 1, true) or string.find(message, 'not an integer', 1, true) then
    return { -1, 0, old, old, false }
  end
  return redis.error_reply(message)
end
if not created then
  created = now
  redis.call('HSET', key, '__created', now, '__touched', now)
else
  redis.call('HSET', key, '__touched', now)
end
local expire_at = renew(ctx, key, created, tonumber(ARGV[6]), now)
local new = ref_values(ctx, key)
reindex(ctx, old, id, new, id, expire_at, now)
return { 1, expire_at, old, new, value }
