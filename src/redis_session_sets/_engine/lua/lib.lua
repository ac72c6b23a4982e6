-- lib.lua: the helpers the operation scripts share.
-- scripts.py composes each script from the constants and helpers it uses (found by name,
-- with the helpers those call), then its own body (docs/design.md, "Lean scripts").
-- Layout: every definition starts at column 0 with `local`, its comment right above it.
--
-- The store's configuration, baked into the text by scripts.py (never sent as ARGV):
-- each name below is replaced by its value, so no constant costs a variable; `#REFS`
-- and `unpack(REFS)` become the count and the list; lines between `--#if NAME` and
-- `--#end` are kept only when NAME is true or non-zero.
--   PREFIX    the key prefix
--   REFS      the reference field names (a table)
--   INLINE    true: scripts update the indexes (single server); false: the caller does (cluster)
--   ABSOLUTE  absolute max age in ms, 0 = none
--   SLACK     index slack in ms, 0 = exact scores (always 0 on a cluster)
--   JITTER    ms of difference tolerated between TIME and what PTTL measures from
--   PRUNE     at most this many expired members pruned from an index per call
--   SLICE     the most arguments one variadic command gets (see call_sliced)
--   ENDTTL    ms an end reason is kept (P:e:{id})
--   LIMITED   true when some reference field has a limit
--   LIMITS    per reference field (a table, in REFS' order), the most live sessions one
--             value may have; 0 = no limit
--   LIMIT_SCAN at most this many index members a limit check examines per call
--   LIMIT_ENDS at most this many sessions a limit check ends per call
-- Session scripts return session_reply(...): see there.
-- Redis runs a script's top-level chunk on every call: each helper included is a closure
-- made per call, and each helper another one refers to is an upvalue made per call (both
-- measurable against a write of a few µs). So hot paths use few helpers, and the index
-- commands' helpers are made by index_ops() only when a call has index work.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function session_key(id)
  return PREFIX .. ':s:{' .. id .. '}'
end

-- The id in a session key, PREFIX:s:{id}.
local function id_of(key)
  return string.sub(key, #PREFIX + 5, -2)
end

local function ref_key(field, value)
  return PREFIX .. ':r:' .. field .. ':{' .. value .. '}'
end

-- The index value of a stored (JSON) value: str(value) in Python terms. Strings and
-- integers are indexed; null, booleans, floats and anything else are not.
local function index_value(raw)
  if not raw then return false end
  if string.byte(raw, 1) == 34 then -- '"'
    local inner = string.sub(raw, 2, -2)
    if #raw > 1 and string.byte(raw, -1) == 34 and not string.find(inner, '\\', 1, true)
        and not string.find(inner, '"', 1, true) then
      return inner -- no escapes: the text itself (plain finds: patterns cost more)
    end
    local ok, decoded = pcall(cjson.decode, raw)
    if ok and type(decoded) == 'string' then return decoded end
    return false
  end
  if string.match(raw, '^%-?%d+$') then return raw end
  return false
end

-- Runs `command key head... list[first..]` in as few calls as the slices allow (one for
-- a small list; none when head and the list's tail are both empty). Lua's unpack() fails
-- past about 8000 values ("too many results to unpack"), and a session may hold
-- thousands of fields: variadic commands go in slices of SLICE, an even number, so that
-- field/value pairs never straddle two calls.
local function call_sliced(command, key, head, list, first)
  local args = {}
  for i = 1, #head do args[i] = head[i] end
  local i = first
  repeat
    local last = math.min(i + SLICE - 1, #list)
    for j = i, last do args[#args + 1] = list[j] end
    if #args > 0 then redis.call(command, key, unpack(args)) end
    args = {}
    i = last + 1
  until i > #list
end

-- HMGET of the names list[first..last], in slices; the values in the same order.
local function read_fields(key, list, first, last)
  local out = {}
  for i = first, last, SLICE do
    local values = redis.call('HMGET', key, unpack(list, i, math.min(i + SLICE - 1, last)))
    for j = 1, #values do out[#out + 1] = values[j] end
  end
  return out
end

-- A session script's reply. On a single server {status, result}, or only the status when
-- there is no result: the script did the index work itself. On a cluster {status, score, old_values, new_values, result} for the
-- caller's index half: the value lists hold, per reference field, the index value before
-- and after (false = none); score is the one the session's index memberships get (0 =
-- none written).
local function session_reply(status, score, old, new, result)
  if INLINE then
    if result == false then return status end
    return { status, result }
  end
  return { status, score, old, new, result }
end

local function no_values()
  local out = {}
  for i = 1, #REFS do out[i] = false end
  return out
end

local function ref_values(key)
  if #REFS == 0 then return {} end
  local raw = redis.call('HMGET', key, unpack(REFS))
  local out = {}
  for i = 1, #REFS do out[i] = index_value(raw[i]) end
  return out
end

-- The index commands, made on demand: prune, fix_ttl, add, remove.
-- prune(key, now): removes expired members (score <= now), at most PRUNE per call so that
--   no call does unbounded work on a big index (the rest go with the next calls, and no
--   read reports a member whose session is gone meanwhile).
-- fix_ttl(key): an index's TTL follows its largest score, so the key vanishes with its
--   last session.
-- add and remove read the largest score first (one ZRANGE): a missing index needs no
-- pruning, and add writes the TTL only when the largest score changes (a sign-in within
-- the slack window of the user's other sessions writes none).
local function index_ops()
  local function prune(key, now)
    local dead = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, PRUNE)
    if #dead > 0 then redis.call('ZREM', key, unpack(dead)) end
  end
  local function fix_ttl(key)
    local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    if top[2] then redis.call('PEXPIREAT', key, top[2]) end
  end
  -- Returns 1 when `id` joined the index (was not a member), 0 when it was renewed.
  local function add(key, id, score, now)
    local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    if not top[2] then -- a new index: nothing to prune, and score is its largest
      redis.call('ZADD', key, score, id)
      redis.call('PEXPIREAT', key, score)
      return 1
    end
    prune(key, now)
    local joined = redis.call('ZADD', key, score, id)
    local largest = tonumber(top[2])
    if score > largest then
      redis.call('PEXPIREAT', key, score)
    elseif largest <= now or (top[1] == id and score < largest) then
      fix_ttl(key) -- the largest was pruned, or was this member's and went down
    end
    return joined
  end
  local function remove(key, id, now)
    redis.call('ZREM', key, id)
    local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    if not top[2] then return end -- the index left with its last member
    prune(key, now)
    if tonumber(top[2]) <= now then
      fix_ttl(key) -- the largest was pruned
    else
      redis.call('PEXPIREAT', key, top[2])
    end
  end
  return prune, fix_ttl, add, remove
end

-- Moves a session between indexes: out of those it left (or all, when its id changed),
-- into those it holds now with `score`. `renew`: also write the score of the memberships
-- it keeps (false when they already hold it: see covered). Returns the positions (in
-- REFS) of the limited indexes the session joined, for enforce_limits (LIMITED only).
local function reindex(old, old_id, new, new_id, score, renew, now)
  if not INLINE then return {} end
  local work = false
  for i = 1, #REFS do
    local moved = old[i] ~= new[i] or old_id ~= new_id
    if (old[i] and moved) or (new[i] and score > 0 and (moved or renew)) then work = true end
  end
  if not work then return {} end
  local _, _, add, remove = index_ops()
  local joined = {}
  for i, field in ipairs(REFS) do
    local moved = old[i] ~= new[i] or old_id ~= new_id
    if old[i] and moved then
      remove(PREFIX .. ':r:' .. field .. ':{' .. old[i] .. '}', old_id, now)
    end
    if new[i] and score > 0 and (moved or renew) then
      local added = add(PREFIX .. ':r:' .. field .. ':{' .. new[i] .. '}', new_id, score, now)
      --#if LIMITED
      if added == 1 and LIMITS[i] > 0 then joined[#joined + 1] = i end
      --#end
    end
  end
  return joined
end

-- Deletes a session and its index memberships (`old`: its reference values).
local function destroy(key, id, old, now)
  redis.call('DEL', key)
  reindex(old, id, no_values(), id, 0, false, now)
end

-- Opens the session in `key` with one read. Returns its creation time (nil when there is
-- no live session), its reference values, the time of its last write (__touched) and
-- whether it holds a __csrf field (an older version's, which the next write removes). A
-- session past the absolute max age is destroyed here. `extra` (optional, at most SLICE
-- names): more fields read by the same HMGET, whose values (false = none) come fifth.
local function open_session(key, id, now, extra)
  local got, more = nil, {}
  if extra then
    local names = { '__created', '__touched', '__csrf', unpack(REFS) }
    local n = #names
    for i = 1, #extra do names[n + i] = extra[i] end
    got = redis.call('HMGET', key, unpack(names))
    for i = 1, #extra do more[i] = got[n + i] end
  else
    got = redis.call('HMGET', key, '__created', '__touched', '__csrf', unpack(REFS))
  end
  local old = {}
  for i = 1, #REFS do old[i] = index_value(got[i + 3]) end
  local created = tonumber(got[1])
  if not created then
    if redis.call('EXISTS', key) == 0 then return nil, old, nil, false, {} end
    return now, old, nil, got[3], more -- a hash written by hand, without __created
  end
  --#if ABSOLUTE
  if created + ABSOLUTE <= now then
    destroy(key, id, old, now)
    return nil, old, nil, false, {}
  end
  --#end
  return created, old, tonumber(got[2]), got[3], more
end

-- The reference values after writing the field/value pairs in ARGV[first..].
local function written_values(old, first)
  local new = {}
  for i = 1, #REFS do new[i] = old[i] end
  for j = first, #ARGV - 1, 2 do
    local name = ARGV[j]
    for i = 1, #REFS do
      if name == REFS[i] then new[i] = index_value(ARGV[j + 1]) end
    end
  end
  return new
end

-- The session's new expiry (Unix ms): max_age from now, capped by the absolute max age.
local function expiry(created, max_age, now)
  local expire_at = now + max_age
  if ABSOLUTE > 0 and created + ABSOLUTE < expire_at then
    expire_at = created + ABSOLUTE
  end
  return expire_at
end

-- The score of the index memberships of a session expiring at expire_at. In slack mode
-- (the session lives ten slacks or more) expire_at rounded up to a multiple of SLACK: all
-- writes within one slack window give the same score, so only the first of them needs an
-- index command. Otherwise expire_at itself.
local function score_for(expire_at, now)
  if SLACK > 0 and expire_at - now >= 10 * SLACK then
    return math.ceil(expire_at / SLACK) * SLACK
  end
  return expire_at
end

-- Whether the session's index memberships already hold score_for(expire_at), given the
-- hash's PTTL before this write. Every write leaves them at score_for(its expiry)
-- (writing it, or finding it there), so they do when the previous write was in slack mode
-- and its expiry lies in the same window as this one. That expiry is now + ttl, exact
-- only to JITTER ms (TIME and the clock PTTL counts from may differ by a little): a
-- window edge that close counts as not covered. And the previous write lived at least
-- ttl: in slack mode when that is ten slacks or more (else: not covered, to be safe).
local function covered(ttl, expire_at, now)
  if SLACK == 0 or ttl - JITTER < 10 * SLACK or expire_at - now < 10 * SLACK then
    return false
  end
  local window = math.ceil(expire_at / SLACK)
  return math.ceil((now + ttl - JITTER) / SLACK) == window
    and math.ceil((now + ttl + JITTER) / SLACK) == window
end

-- Deletes the session `id` met in an index.
local function destroy_by_id(id, now)
  local key = session_key(id)
  destroy(key, id, ref_values(key), now)
end

-- Does session `id` exist and still hold `value` in `field`? 'live', 'stale' or 'old'
-- (past the absolute max age). One command per member: this is an index walk's cost.
local function member_state(field, value, id, now)
  if ABSOLUTE == 0 then
    if index_value(redis.call('HGET', PREFIX .. ':s:{' .. id .. '}', field)) ~= value then
      return 'stale'
    end
    return 'live'
  end
  local got = redis.call('HMGET', PREFIX .. ':s:{' .. id .. '}', field, '__created')
  if index_value(got[1]) ~= value then return 'stale' end
  if got[2] and tonumber(got[2]) + ABSOLUTE <= now then return 'old' end
  return 'live'
end

-- member_state of the session `id` met in the index of REFS[position], with the
-- session's reference values, in one command.
local function member_values(position, value, id, now)
  local got = redis.call('HMGET', PREFIX .. ':s:{' .. id .. '}', '__created', unpack(REFS))
  local values = {}
  for i = 1, #REFS do values[i] = index_value(got[i + 1]) end
  if values[position] ~= value then return 'stale', values end
  if ABSOLUTE > 0 and got[1] and tonumber(got[1]) + ABSOLUTE <= now then return 'old', values end
  return 'live', values
end

-- A page of an index's members {id, score, ...}: the live ones, in the page's order, and
-- the ids of the others (expired by score, stale, or past the absolute max age: those are
-- destroyed here), which the caller removes from the index.
local function sort_members(field, value, page, now)
  local live, gone = {}, {}
  for i = 1, #page, 2 do
    local id = page[i]
    local state = 'stale'
    if tonumber(page[i + 1]) > now then state = member_state(field, value, id, now) end
    if state == 'live' then
      live[#live + 1] = id
    else
      if state == 'old' then destroy_by_id(id, now) end
      gone[#gone + 1] = id
    end
  end
  return live, gone
end

-- Keeps why the session `id` was ended at PREFIX:e:{id}, for ENDTTL ms (the key shares
-- the session's hash tag: its slot on a cluster).
local function keep_reason(id, reason)
  redis.call('SET', PREFIX .. ':e:{' .. id .. '}', reason, 'PX', ENDTTL)
end

-- Ends the session `id` met in an index (it was checked live): deletes it and keeps the
-- reason. The caller publishes the ended ids.
local function end_session(id, reason, now)
  destroy_by_id(id, now)
  keep_reason(id, reason)
end

-- A limit (docs/design.md, "Limits"): the index of REFS[position] = value holds at most
-- LIMITS[position] live sessions. Over it, the least recently active others (lowest
-- scores: activity to within the index slack) are ended with the reason 'limit', never
-- `writer`. Members not live (expired, stale, past the absolute max age) are removed
-- and never count. A set of more than LIMIT_SCAN members, or more than LIMIT_ENDS over
-- its limit (a limit lowered since they signed in), is left to limit.lua, which walks it
-- from the most recently active down in bounded steps: nothing is ended on a guess about
-- members not examined (stale ones would end sessions of a user within the limit).
-- Returns whether the set may still be over its limit (then limit.lua continues); the
-- ended ids go to `ended`.
local function enforce_limit(position, value, writer, now, ended)
  local limit = LIMITS[position]
  local index = ref_key(REFS[position], value)
  local card = redis.call('ZCARD', index)
  if card <= limit then return false end
  -- (More than LIMIT_ENDS to end, likewise: a limit lowered, not a sign-in's one or two.)
  if card > LIMIT_SCAN or card - limit > LIMIT_ENDS then return true end
  local members = redis.call('ZRANGE', index, 0, -1, 'WITHSCORES')
  local live, gone = sort_members(REFS[position], value, members, now)
  if #gone > 0 then call_sliced('ZREM', index, {}, gone, 1) end
  -- The writer counts, but is never ended.
  local excess = #live - limit
  for i = 1, #live do
    if live[i] == writer then
      table.remove(live, i)
      break
    end
  end
  local n = math.min(excess, #live)
  for i = 1, n do
    end_session(live[i], 'limit', now)
    ended[#ended + 1] = live[i]
  end
  if #gone > 0 and n <= 0 then
    local _, fix_ttl = index_ops()
    fix_ttl(index)
  end
  return false
end

-- Enforces the limits of the indexes a write made the session `id` join (reindex's
-- result), publishing the ended ids. True when some index may still be over its limit.
local function enforce_limits(joined, values, id, now)
  local ended, more = {}, false
  for _, position in ipairs(joined) do
    if enforce_limit(position, values[position], id, now, ended) then more = true end
  end
  if #ended > 0 then redis.call('PUBLISH', PREFIX .. ':ended', table.concat(ended, ' ')) end
  return more
end
