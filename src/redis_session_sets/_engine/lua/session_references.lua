-- session_references.lua: the (field, value) indexes a session is a member of, found
-- from its own fields, so an operator's tool can clean them without knowing the app's
-- reference configuration. Result: a flat list {field, value, field, value, ...}.
-- KEYS[1]  the session hash
-- ARGV     none
local key = KEYS[1]
local id = id_of(key)
local found = {}
local flat = redis.call('HGETALL', key)
for i = 1, #flat, 2 do
  local field = flat[i]
  -- Reference field names are [A-Za-z0-9_.-]{1,64} and never reserved.
  if string.sub(field, 1, 2) ~= '__' and #field <= 64 and not string.find(field, '[^%w_%.%-]') then
    local value = index_value(flat[i + 1])
    if value and redis.call('ZSCORE', ref_key(field, value), id) then
      found[#found + 1] = field
      found[#found + 1] = value
    end
  end
end
return found
