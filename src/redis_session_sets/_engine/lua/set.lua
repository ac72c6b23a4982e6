-- set.lua: write fields, creating the session if asked to, and renew its TTL.
-- KEYS[1]  the session hash
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  session id
-- ARGV[6]  max age in ms
-- ARGV[7]  '1' = create the session when missing, '0' = report it missing (status 0)
-- ARGV[8..] field, JSON value, field, JSON value, ...
local ctx = context()
local key, id, now = KEYS[1], ARGV[5], now_ms()
local created, old = open_session(ctx, key, id, now)
local head = { '__touched', now }
if not created then
  if ARGV[7] ~= '1' then return { 0, 0, old, no_values(ctx), false } end
  created = now
  head = { '__created', now, '__touched', now }
end
call_sliced('HSET', key, head, ARGV, 8)
local expire_at = renew(ctx, key, created, tonumber(ARGV[6]), now)
local new = written_values(ctx, old, 8)
reindex(ctx, old, id, new, id, expire_at, now)
return { 1, expire_at, old, new, false }
