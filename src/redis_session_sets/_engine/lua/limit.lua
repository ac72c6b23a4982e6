-- limit.lua: continues the limit check of a write that could not finish it in one call
-- (an index bigger than lib.lua's LIMIT_SCAN members: a limit lowered since they signed in).
-- Walks each limited index the session is in from the most recently active member down,
-- LIMIT_SCAN members per call: the session itself and the first LIMIT - 1 other live
-- members are kept, every live member after them is ended (reason 'limit'), members not
-- live are removed. So only what was seen counts: a member is ended only once LIMIT live
-- ones above it were met (lib.lua, enforce_limit).
-- KEYS[1]  the session hash (the writer)
-- ARGV     the walks to continue, four values each: position (in REFS), offset (rank from
--          the top where the walk goes on), kept (others kept so far), anchor (the id of
--          the last member kept, '' = none: its rank gives the offset, so that members
--          joining or leaving above it meanwhile shift nothing; when it is gone, the walk
--          starts again from the top). None: start a walk on each limited index the
--          session is in (over its limit).
-- Result: the walks left, in the same shape; empty when done (or the session is gone).
local key, now = KEYS[1], now_ms()
local id = id_of(key)
if redis.call('EXISTS', key) == 0 then return {} end
local values = ref_values(key)
local walks = {}
if #ARGV == 0 then
  for i = 1, #REFS do
    if values[i] and LIMITS[i] > 0 then walks[#walks + 1] = { i, 0, 0, '' } end
  end
else
  for j = 1, #ARGV, 4 do
    walks[#walks + 1] = { tonumber(ARGV[j]), tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2]), ARGV[j + 3] }
  end
end
local ended, left = {}, {}
for _, walk in ipairs(walks) do
  local position, offset, kept, anchor = walk[1], walk[2], walk[3], walk[4]
  local field, value = REFS[position], values[position]
  local index = value and ref_key(field, value)
  -- (a session that left the index meanwhile ends its walk, and so does a set within its limit)
  if value and redis.call('ZCARD', index) > LIMITS[position] then
    if anchor ~= '' then
      local rank = redis.call('ZREVRANK', index, anchor)
      if rank then offset = rank + 1 else offset, kept = 0, 0 end -- (ended meanwhile: anew)
    end
    local page = redis.call('ZREVRANGE', index, offset, offset + LIMIT_SCAN - 1, 'WITHSCORES')
    local gone, stopped = {}, false
    for i = 1, #page, 2 do
      local member = page[i]
      -- Each ending costs a few commands per index of the session: at most LIMIT_ENDS
      -- per call (delete_all's batch), the next call goes on from here.
      if #ended >= LIMIT_ENDS then
        stopped = true
        break
      end
      local state = 'live'
      if member ~= id then
        state = 'stale'
        if tonumber(page[i + 1]) > now then state = member_state(field, value, member, now) end
      end
      if member == id or (state == 'live' and kept < LIMITS[position] - 1) then
        if member ~= id then kept = kept + 1 end
        offset, anchor = offset + 1, member
      elseif state == 'live' then
        end_session(member, 'limit', now)
        ended[#ended + 1] = member
      else
        if state == 'old' then destroy_by_id(member, now) end
        gone[#gone + 1] = member
      end
    end
    if #gone > 0 then
      call_sliced('ZREM', index, {}, gone, 1)
      local _, fix_ttl = index_ops()
      fix_ttl(index)
    end
    if stopped or #page == 2 * LIMIT_SCAN then
      for _, item in ipairs({ position, offset, kept, anchor }) do left[#left + 1] = item end
    end
  end
end
if #ended > 0 then redis.call('PUBLISH', PREFIX .. ':ended', table.concat(ended, ' ')) end
return left
