-- limit.lua: continues the limit check of a write that could not finish it in one call
-- (an index bigger than lib.lua's LIMIT_SCAN members: a limit lowered since they signed in).
-- Ends the least recently active sessions beyond each limited index's limit that the
-- session is in, never the session itself (lib.lua, enforce_limit). Status 2 while more
-- may remain (the caller calls again), 1 when done, 0 when the session is gone.
-- KEYS[1]  the session hash (the writer)
-- ARGV     none
local key, now = KEYS[1], now_ms()
local id = id_of(key)
local values = ref_values(key)
if redis.call('EXISTS', key) == 0 then return 0 end
local joined = {}
for i = 1, #REFS do
  if values[i] and LIMITS[i] > 0 then joined[#joined + 1] = i end
end
if enforce_limits(joined, values, id, now) then return 2 end
return 1
