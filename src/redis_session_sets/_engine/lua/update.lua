-- update.lua: save a dict session's changes in one atomic step: remove the fields the
-- request deleted, write the ones it changed, renew the TTL and move the indexes.
-- KEYS[1]  the session hash
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  session id
-- ARGV[6]  max age in ms
-- ARGV[7]  '1' = create the session when missing, '0' = report it missing (status 0)
-- ARGV[8]  '1' = replace: remove every user field not written here (the dict was
--          cleared before its stored content was read), '0' = remove only those named
-- ARGV[9]  n, the number of field names to remove
-- ARGV[10..9+n]  field names to remove
-- ARGV[10+n..]   field, JSON value, field, JSON value, ...
local ctx = context()
local key, id, now = KEYS[1], ARGV[5], now_ms()
local created, old = open_session(ctx, key, id, now)
local write = { '__touched', now }
if not created then
  if ARGV[7] ~= '1' then return { 0, 0, old, no_values(ctx), false } end
  created = now
  write = { '__created', now, '__touched', now }
end
local removed = tonumber(ARGV[9])
local first = 10 + removed
local drop = {}
if ARGV[8] == '1' then
  local written = {}
  for i = first, #ARGV, 2 do written[ARGV[i]] = true end
  for _, name in ipairs(redis.call('HKEYS', key)) do
    if string.sub(name, 1, 2) ~= '__' and not written[name] then drop[#drop + 1] = name end
  end
else
  for i = 10, first - 1 do drop[#drop + 1] = ARGV[i] end
end
-- The reference values once the removals are done (the writes are applied below).
local kept = {}
for i, field in ipairs(ctx.refs) do
  kept[i] = old[i]
  for _, name in ipairs(drop) do
    if name == field then kept[i] = false end
  end
end
call_sliced('HDEL', key, {}, drop, 1)
call_sliced('HSET', key, write, ARGV, first)
local expire_at = renew(ctx, key, created, tonumber(ARGV[6]), now)
local new = written_values(ctx, kept, first)
reindex(ctx, old, id, new, id, expire_at, now)
return { 1, expire_at, old, new, false }
