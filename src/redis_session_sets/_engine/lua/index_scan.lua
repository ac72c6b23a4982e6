-- index_scan.lua: one page of an index's live sessions: sessions, count and
-- iter_sessions walk an index page by page, so that no call does more than a page's work
-- whatever the index holds. ZSCAN walks the set by hash bucket, so score renewals during
-- the walk neither skip nor repeat a session (a rehash may repeat one). Each member met is
-- checked against its hash: expired and stale ones (the hash gone or holding another
-- value) are removed, sessions past the absolute max age destroyed.
-- Result: {next cursor ('0' = done), ids}.
-- KEYS[1]  the index (sorted set)
-- ARGV[1]  field name
-- ARGV[2]  index value
-- ARGV[3]  cursor ('0' to start)
-- ARGV[4]  page size (ZSCAN's COUNT: a small set comes whole, at most 128 members)
local prune, fix_ttl = index_ops()
local index, field, value, now = KEYS[1], ARGV[1], ARGV[2], now_ms()
local reply = redis.call('ZSCAN', index, ARGV[3], 'COUNT', ARGV[4])
local live, gone = sort_members(field, value, reply[2], now)
if #gone > 0 then
  call_sliced('ZREM', index, {}, gone, 1)
  -- A removed member may have held the largest score: the TTL follows what is left.
  fix_ttl(index)
end
return { reply[1], live }
