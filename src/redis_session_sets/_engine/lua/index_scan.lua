-- index_scan.lua: one batch of an index's live sessions, for iteration in constant
-- memory. ZSCAN walks the set by hash bucket, so score renewals during the walk
-- neither skip nor repeat a session. Result: {next cursor ('0' = done), ids}.
-- KEYS[1]  the index (sorted set)
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  field name
-- ARGV[6]  index value
-- ARGV[7]  cursor ('0' to start)
-- ARGV[8]  batch size (a hint, as ZSCAN's COUNT)
local ctx = context()
local index, field, value, now = KEYS[1], ARGV[5], ARGV[6], now_ms()
local reply = redis.call('ZSCAN', index, ARGV[7], 'COUNT', ARGV[8])
local live = {}
local removed = false
local pairs_ = reply[2]
for i = 1, #pairs_, 2 do
  local id, score = pairs_[i], tonumber(pairs_[i + 1])
  local state = 'stale'
  if score > now then state = member_state(ctx, field, value, id, now) end
  if state == 'live' then
    live[#live + 1] = id
  elseif state == 'old' then
    destroy_by_id(ctx, id, now)
  else
    redis.call('ZREM', index, id)
    removed = true
  end
end
-- A removed member may have held the largest score: the key's TTL follows what is left.
if removed then index_fix_ttl(index) end
return { reply[1], live }
