"""The Lua scripts of runtime.pipeline.store, each atomic on one Redis Cluster hash slot.

Every key a script touches is passed in KEYS and carries the same hash tag: `{stage:key}` for
a buffer's keys (buffer, flush flag, in-flight lists, leases, recovery counts, dead list) and
`{instance key}` for a destination's dedupe sets and messageId claims. So the scripts run
unchanged on one Redis or on a cluster. The index of buffers (`<prefix>:active`) is the one
key shared by all of them; it is written outside the scripts (see store.py).
"""

# Append, then say whether to flush now (2: this push filled another whole batch), later (1:
# first item of a wait window) or not at all (0: a flush is already on its way). Only batch
# boundaries publish, so a backlog never turns every push into one more task; and once two
# whole batches wait, the tasks already published for them drain the rest (a flush takes up
# to MAX_FLUSH_ROUNDS batches and publishes another while a backlog remains).
# KEYS: buf, sched. ARGV: batch, flag ms, items...
PUSH = """
local before = redis.call('LLEN', KEYS[1])
local after = redis.call('RPUSH', KEYS[1], unpack(ARGV, 3))
local batch = tonumber(ARGV[1])
if before < 2 * batch and math.floor(after / batch) > math.floor(before / batch) then return 2 end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
# Shared Lua: the server's clock in ms, and "count one more recovery of these items; return the
# ones still allowed and move the others (over `max`) to the dead list".
_LIB = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function count_recovery(items, recov, dead, max)
  local keep = {}
  for _, item in ipairs(items) do
    local n = redis.call('HINCRBY', recov, redis.sha1hex(item), 1)
    if n > max then
      redis.call('RPUSH', dead, item)
      redis.call('HDEL', recov, redis.sha1hex(item))
    else
      keep[#keep + 1] = item
    end
  end
  redis.call('EXPIRE', recov, 7 * 24 * 3600)
  return keep
end
"""
# Take a batch into this task's in-flight list under a lease. A task that finds its own
# in-flight list (a redelivery after its worker died) resumes it, one recovery counted.
# KEYS: buf, inflight, sched, leases, recov, dead. ARGV: limit, ttl, lease member, lease ms,
# max recoveries.
DRAIN = (
    _LIB
    + """
local mine = redis.call('LRANGE', KEYS[2], 0, -1)
if #mine > 0 then
  local keep = count_recovery(mine, KEYS[5], KEYS[6], tonumber(ARGV[5]))
  redis.call('DEL', KEYS[2])
  if #keep > 0 then
    redis.call('RPUSH', KEYS[2], unpack(keep))
    redis.call('ZADD', KEYS[4], now_ms() + tonumber(ARGV[4]), ARGV[3])
  else
    redis.call('ZREM', KEYS[4], ARGV[3])
  end
  return keep
end
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  -- Copy before trimming: a Redis out of memory refuses the RPUSH and the items stay put.
  redis.call('RPUSH', KEYS[2], unpack(items))
  redis.call('LTRIM', KEYS[1], #items, -1)
  redis.call('EXPIRE', KEYS[2], ARGV[2])
  redis.call('ZADD', KEYS[4], now_ms() + tonumber(ARGV[4]), ARGV[3])
end
-- The flush flag goes once the buffer is empty: while a backlog remains this task drains it in
-- its next round (or publishes a successor), so pushes meanwhile need not publish flushes.
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[3]) end
return items
"""
)
# Give an in-flight list back to the front of its buffer (ARGV[1] = 1: count a recovery, or
# 0 for an infrastructure error, which never uses up attempts). With ARGV[4] = 1 only when its
# lease has expired (the sweep; the task may have renewed it meanwhile). Returns
# {requeued, dead}. KEYS: buf, inflight, leases, recov, dead.
# ARGV: count, lease member, max recoveries, only expired.
RELEASE = (
    _LIB
    + """
if ARGV[4] == '1' then
  local score = redis.call('ZSCORE', KEYS[3], ARGV[2])
  if score and tonumber(score) > now_ms() then return {0, 0} end
end
local items = redis.call('LRANGE', KEYS[2], 0, -1)
local before = redis.call('LLEN', KEYS[5])
if ARGV[1] == '1' then items = count_recovery(items, KEYS[4], KEYS[5], tonumber(ARGV[3])) end
-- Back into the buffer before the in-flight list goes (a refused write loses nothing).
if #items > 0 then
  local reversed = {}
  for i = #items, 1, -1 do reversed[#reversed + 1] = items[i] end
  redis.call('LPUSH', KEYS[1], unpack(reversed))
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return {#items, redis.call('LLEN', KEYS[5]) - before}
"""
)
# KEYS: leases. ARGV: lease member, lease ms.
RENEW = (
    _LIB
    + """
return redis.call('ZADD', KEYS[1], 'XX', now_ms() + tonumber(ARGV[2]), ARGV[1])
"""
)
# Done: forget the in-flight list, its lease and any recovery counts of its items.
# KEYS: inflight, leases, recov, buf. ARGV: lease member. Returns the buffer's backlog.
DONE = """
if redis.call('HLEN', KEYS[3]) > 0 then
  for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
    redis.call('HDEL', KEYS[3], redis.sha1hex(item))
  end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('LLEN', KEYS[4])
"""
# 1 when a buffer has nothing left anywhere (no items, no flush flag, no lease, no dead
# items): the sweep may then drop it from the index. KEYS: buf, sched, leases, dead.
IDLE = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then return 0 end
end
return 1
"""
# Which of ARGV (messageIds) are members of any of KEYS (the hourly delivered sets).
SEEN = """
local hits = {}
for i = 1, #ARGV do hits[i] = 0 end
for _, key in ipairs(KEYS) do
  local found = redis.call('SMISMEMBER', key, unpack(ARGV))
  for i = 1, #ARGV do if found[i] == 1 then hits[i] = 1 end end
end
return hits
"""
# Claim each messageId for one delivery: 0 = delivered already (in a window set), 1 = claimed
# by ARGV[1] (free, or already this token's), 2 = held by another token.
# KEYS: the ARGV[3] hourly delivered sets, then one claim key per messageId.
# ARGV: token, ttl ms, number of sets, messageIds.
CLAIM = """
local sets = tonumber(ARGV[3])
local n = #ARGV - 3
local out = {}
for i = 1, n do out[i] = 1 end
-- One SMISMEMBER per window set for the whole batch (not one SISMEMBER per id and set).
for s = 1, sets do
  local found = redis.call('SMISMEMBER', KEYS[s], unpack(ARGV, 4))
  for i = 1, n do if found[i] == 1 then out[i] = 0 end end
end
for i = 1, n do
  if out[i] == 1 then
    local ckey = KEYS[sets + i]
    local holder = redis.call('GET', ckey)
    if holder and holder ~= ARGV[1] then
      out[i] = 2
    else
      redis.call('SET', ckey, ARGV[1], 'PX', ARGV[2])
    end
  end
end
return out
"""
# Let go of the claims (KEYS) that ARGV[1] still holds; a claim another task took since stays.
UNCLAIM = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
"""
# Upgrade from the untagged layout: an old list's items go in front of the new one (they are
# older), then the old list goes. KEYS: old, new (one Redis: that layout never ran on a cluster).
LEGACY_PREPEND = """
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for i = #items, 1, -1 do redis.call('LPUSH', KEYS[2], items[i]) end
redis.call('DEL', KEYS[1])
return #items
"""
