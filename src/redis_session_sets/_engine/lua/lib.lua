-- lib.lua: helpers shared by every operation script.
-- _scripts.py prepends this file to each script, so the helpers are local to it.
--
-- Every script takes the same leading ARGV, which context() reads:
--   ARGV[1] key prefix          ARGV[2] reference field names, space-separated
--   ARGV[3] '1' = update indexes here (single server), '0' = leave them to the caller (cluster)
--   ARGV[4] absolute max age in ms, '0' = none
-- Scripts return {status, expire_at, old_values, new_values, result}, where the value
-- lists hold, per reference field, the index value before and after (false = none).

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function context()
  local refs = {}
  for name in string.gmatch(ARGV[2], '%S+') do refs[#refs + 1] = name end
  return { prefix = ARGV[1], refs = refs, inline = ARGV[3] == '1', absolute = tonumber(ARGV[4]) }
end

local function session_key(ctx, id)
  return ctx.prefix .. ':s:{' .. id .. '}'
end

local function ref_key(ctx, field, value)
  return ctx.prefix .. ':r:' .. field .. ':{' .. value .. '}'
end

-- The index value of a stored (JSON) value: str(value) in Python terms. Strings and
-- integers are indexed; null, booleans, floats and anything else are not.
local function index_value(raw)
  if not raw then return false end
  if string.sub(raw, 1, 1) == '"' then
    local ok, decoded = pcall(cjson.decode, raw)
    if ok and type(decoded) == 'string' then return decoded end
    return false
  end
  if string.match(raw, '^%-?%d+$') then return raw end
  return false
end

-- Lua's unpack() fails past about 8000 values ("too many results to unpack"), and a
-- session may hold thousands of fields: variadic commands go in slices. SLICE is even,
-- so field/value pairs never straddle two calls.
local SLICE = 1000

-- Runs `command key head... list[first..]` in as few calls as the slices allow (one for
-- a small list; none when head and the list's tail are both empty).
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

local function no_values(ctx)
  local out = {}
  for i = 1, #ctx.refs do out[i] = false end
  return out
end

local function ref_values(ctx, key)
  if #ctx.refs == 0 then return {} end
  local raw = redis.call('HMGET', key, unpack(ctx.refs))
  local out = {}
  for i = 1, #ctx.refs do out[i] = index_value(raw[i]) end
  return out
end

-- An index's TTL follows its largest score, so the key vanishes with its last session.
local function index_fix_ttl(key)
  local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if top[2] then redis.call('PEXPIREAT', key, top[2]) end
end

local function index_add(key, id, score, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  redis.call('ZADD', key, score, id)
  index_fix_ttl(key)
end

local function index_remove(key, id, now)
  redis.call('ZREM', key, id)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  index_fix_ttl(key)
end

-- Moves a session between indexes: out of the ones it left (or all, when its id
-- changed), into the ones it holds now with score expire_at (0 = no renewal).
local function reindex(ctx, old, old_id, new, new_id, expire_at, now)
  if not ctx.inline then return end
  for i, field in ipairs(ctx.refs) do
    if old[i] and (old[i] ~= new[i] or old_id ~= new_id) then
      index_remove(ref_key(ctx, field, old[i]), old_id, now)
    end
    if new[i] and expire_at > 0 then
      index_add(ref_key(ctx, field, new[i]), new_id, expire_at, now)
    end
  end
end

-- Deletes a session and its index memberships (`old`: its reference values).
local function destroy(ctx, key, id, old, now)
  redis.call('DEL', key)
  reindex(ctx, old, id, no_values(ctx), id, 0, now)
end

-- Opens the session in `key` with one read: returns its creation time (nil when there is
-- no live session) and its reference values. A session past the absolute max age is
-- destroyed here.
local function open_session(ctx, key, id, now)
  local got = redis.call('HMGET', key, '__created', unpack(ctx.refs))
  local old = {}
  for i = 1, #ctx.refs do old[i] = index_value(got[i + 1]) end
  local created = tonumber(got[1])
  if not created then
    if redis.call('EXISTS', key) == 0 then return nil, old end
    return now, old -- a hash written by hand, without __created
  end
  if ctx.absolute > 0 and created + ctx.absolute <= now then
    destroy(ctx, key, id, old, now)
    return nil, old
  end
  return created, old
end

-- The reference values after writing the field/value pairs in ARGV[first..].
local function written_values(ctx, old, first)
  local new = {}
  for i = 1, #ctx.refs do new[i] = old[i] end
  for j = first, #ARGV, 2 do
    for i, field in ipairs(ctx.refs) do
      if ARGV[j] == field then new[i] = index_value(ARGV[j + 1]) end
    end
  end
  return new
end

-- Sets the session's TTL to max_age from now, capped by the absolute max age; returns
-- the expiry (Unix ms). The caller has written __touched.
local function renew(ctx, key, created, max_age, now)
  local expire_at = now + max_age
  if ctx.absolute > 0 and created + ctx.absolute < expire_at then
    expire_at = created + ctx.absolute
  end
  redis.call('PEXPIREAT', key, expire_at)
  return expire_at
end

-- Deletes the session `id` met in an index.
local function destroy_by_id(ctx, id, now)
  local key = session_key(ctx, id)
  destroy(ctx, key, id, ref_values(ctx, key), now)
end

-- Does session `id` exist and still hold `value` in `field`? 'live', 'stale' or 'old'
-- (past the absolute max age).
local function member_state(ctx, field, value, id, now)
  local got = redis.call('HMGET', session_key(ctx, id), field, '__created')
  if index_value(got[1]) ~= value then return 'stale' end
  if ctx.absolute > 0 and got[2] and tonumber(got[2]) + ctx.absolute <= now then return 'old' end
  return 'live'
end
