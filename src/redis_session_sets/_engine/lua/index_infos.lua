-- index_infos.lua: one batch of an index's live sessions with their times and device, for
-- session_infos ("your devices"). ZSCAN walks the set by hash bucket, so score renewals
-- during the walk neither skip nor repeat a session, and a batch is bounded by its COUNT
-- (a set small enough to be stored as a listpack comes back whole, in one call). Members
-- are checked as member_state (lib.lua) does, reading the fields shown in the same HMGET:
-- expired, gone or holding another value, they are removed; sessions past the absolute
-- max age are destroyed.
-- Result: {next cursor ('0' = done), now ms, {id, created ms, touched ms, ttl ms (PTTL),
-- __ua, __ip, id, ...}} (false for a field the hash lacks).
-- KEYS[1]  the index (sorted set)
-- ARGV[1..4] as lib.lua says
-- ARGV[5]  field name
-- ARGV[6]  index value
-- ARGV[7]  cursor ('0' to start)
-- ARGV[8]  batch size (a hint, as ZSCAN's COUNT)
local ctx = context()
local index, field, value, now = KEYS[1], ARGV[5], ARGV[6], now_ms()
local reply = redis.call('ZSCAN', index, ARGV[7], 'COUNT', ARGV[8])
local out = {}
local removed = false
local pairs_ = reply[2]
for i = 1, #pairs_, 2 do
  local id = pairs_[i]
  local state, got = 'stale', nil
  if tonumber(pairs_[i + 1]) > now then
    got = redis.call('HMGET', session_key(ctx, id), field, '__created', '__touched', '__ua', '__ip')
    if index_value(got[1]) == value then
      state = 'live'
      if ctx.absolute > 0 and got[2] and tonumber(got[2]) + ctx.absolute <= now then state = 'old' end
    end
  end
  if state == 'live' then
    local created = got[2] or now -- a hash written by hand, without __created
    out[#out + 1] = id
    out[#out + 1] = created
    out[#out + 1] = got[3] or created
    out[#out + 1] = redis.call('PTTL', session_key(ctx, id))
    out[#out + 1] = got[4]
    out[#out + 1] = got[5]
  elseif state == 'old' then
    destroy_by_id(ctx, id, now)
  else
    redis.call('ZREM', index, id)
    removed = true
  end
end
-- A removed member may have held the largest score: the key's TTL follows what is left.
if removed then index_fix_ttl(index) end
return { reply[1], now, out }
