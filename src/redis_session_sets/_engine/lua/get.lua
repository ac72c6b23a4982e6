-- get.lua: read fields, honouring the absolute max age (used only when one is set;
-- otherwise a plain HGETALL/HMGET does). The result is a flat field/value list.
-- KEYS[1]  the session hash
-- ARGV[1..] field names to read; none = all
local key, now = KEYS[1], now_ms()
local id = id_of(key)
local created, old = open_session(key, id, now)
if not created then return session_reply(0, 0, old, no_values(), {}) end
if #ARGV == 0 then return session_reply(1, 0, old, old, redis.call('HGETALL', key)) end
local values = read_fields(key, ARGV, 1, #ARGV)
local flat = {}
for i = 1, #ARGV do
  if values[i] then
    flat[#flat + 1] = ARGV[i]
    flat[#flat + 1] = values[i]
  end
end
return session_reply(1, 0, old, old, flat)
