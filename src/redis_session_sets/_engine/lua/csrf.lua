-- csrf.lua: the session's CSRF secret, created atomically on first use.
-- Status 1: the secret already existed (nothing written); 2: it was created now (the
-- session's TTL and index scores are renewed, as with any write); 0: no such session
-- (nothing written), unless mode 'create' creates the session too.
-- KEYS[1]  the session hash
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  session id
-- ARGV[6]  max age in ms
-- ARGV[7]  'read' = only return the secret, 'write' = create the secret when missing,
--          'create' = also create the session when missing
-- ARGV[8]  the secret to store when there is none yet
local ctx = context()
local key, id, now, mode = KEYS[1], ARGV[5], now_ms(), ARGV[7]
local created, old = open_session(ctx, key, id, now)
if not created then
  if mode ~= 'create' then return { 0, 0, old, no_values(ctx), false } end
  created = now
  redis.call('HSET', key, '__created', now, '__touched', now, '__csrf', ARGV[8])
else
  local secret = redis.call('HGET', key, '__csrf')
  if secret or mode == 'read' then return { 1, 0, old, old, secret } end
  redis.call('HSET', key, '__touched', now, '__csrf', ARGV[8])
end
local expire_at = renew(ctx, key, created, tonumber(ARGV[6]), now)
reindex(ctx, old, id, old, id, expire_at, now)
return { 2, expire_at, old, old, ARGV[8] }
