-- index_infos.lua: one page of an index's live sessions with their times and device, for
-- session_infos ("your devices"). ZSCAN walks the set by hash bucket, so score renewals
-- during the walk neither skip nor repeat a session (a rehash may repeat one), and a page
-- is bounded by its COUNT (a set small enough to be a listpack comes back whole). Each
-- member is checked as member_state (lib.lua) does, in the same HMGET that reads what is
-- shown: expired, gone or holding another value, it is removed; a session past the
-- absolute max age is destroyed. Two commands per live member (HMGET, PTTL).
-- Result: {next cursor ('0' = done), now ms, {id, created ms, touched ms, ttl ms (PTTL),
-- __ua, __ip, id, ...}} (false for a field the hash lacks).
-- KEYS[1]  the index (sorted set)
-- ARGV[1]  field name
-- ARGV[2]  index value
-- ARGV[3]  cursor ('0' to start)
-- ARGV[4]  page size (ZSCAN's COUNT)
local index, field, value, now = KEYS[1], ARGV[1], ARGV[2], now_ms()
local reply = redis.call('ZSCAN', index, ARGV[3], 'COUNT', ARGV[4])
local out, gone = {}, {}
local page = reply[2]
for i = 1, #page, 2 do
  local id = page[i]
  local state, got = 'stale', nil
  if tonumber(page[i + 1]) > now then
    got = redis.call('HMGET', session_key(id), field, '__created', '__touched', '__ua', '__ip')
    if index_value(got[1]) == value then
      state = 'live'
      if ABSOLUTE > 0 and got[2] and tonumber(got[2]) + ABSOLUTE <= now then state = 'old' end
    end
  end
  if state == 'live' then
    local created = got[2] or now -- a hash written by hand, without __created
    out[#out + 1] = id
    out[#out + 1] = created
    out[#out + 1] = got[3] or created
    out[#out + 1] = redis.call('PTTL', session_key(id))
    out[#out + 1] = got[4]
    out[#out + 1] = got[5]
  else
    if state == 'old' then destroy_by_id(id, now) end
    gone[#gone + 1] = id
  end
end
if #gone > 0 then
  local _, fix_ttl = index_ops()
  call_sliced('ZREM', index, {}, gone, 1)
  -- A removed member may have held the largest score: the TTL follows what is left.
  fix_ttl(index)
end
return { reply[1], now, out }
