-- get.lua: read fields, honouring the absolute max age (used only when one is set;
-- otherwise a plain HGETALL/HMGET does). The result is a flat field/value list.
-- KEYS[1]  the session hash
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  session id
-- ARGV[6..] field names to read; none = all
local ctx = context()
local key, id, now = KEYS[1], ARGV[5], now_ms()
local created, old = open_session(ctx, key, id, now)
if not created then return { 0, 0, old, no_values(ctx), {} } end
if #ARGV < 6 then return { 1, 0, old, old, redis.call('HGETALL', key) } end
local flat = {}
for first = 6, #ARGV, SLICE do -- in slices, as call_sliced says why
  local last = math.min(first + SLICE - 1, #ARGV)
  local values = redis.call('HMGET', key, unpack(ARGV, first, last))
  for i = first, last do
    if values[i - first + 1] then
      flat[#flat + 1] = ARGV[i]
      flat[#flat + 1] = values[i - first + 1]
    end
  end
end
return { 1, 0, old, old, flat }
