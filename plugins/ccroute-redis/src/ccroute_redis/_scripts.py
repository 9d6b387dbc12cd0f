"""The Lua scripts the engine runs on the server (EVALSHA; loaded once per connection pool).

Redis runs a script atomically: no other command runs between its first and
its last line, and with ``appendfsync always`` its writes reach the
append-only file, as one transaction, before the reply. That is what makes
the fencing check and the write it guards one step: a former leader's append
either runs entirely before the new leader's ``acquire`` (and is then part of
the log the new leader loads) or is refused entirely after it.

Keys of a partition (``{p}`` is the partition's name, in braces so a Redis
Cluster keeps one partition's keys in one slot):

``<prefix>:{p}:meta``      hash: magic, layout, format, last_seq, pruned_through
``<prefix>:{p}:fence``     the latest fencing token (INCR)
``<prefix>:{p}:lease``     ``"<token> <node>"`` with an expiry (SET NX PX)
``<prefix>:{p}:log``       the stream of records, entry id ``<seq>-0``
``<prefix>:{p}:snapshots`` sorted set of the seqs of the kept snapshots
``<prefix>:{p}:snapshot:<seq>`` hash: version, crc, body
``<prefix>:{p}:quarantine`` stream of entries set aside as damaged
"""

from __future__ import annotations

from typing import Final

# Every write script starts with the same check. ARGV[1] is the token as a
# decimal string; a missing fence counts as "0", which no lease hands out.
_FENCE: Final = """
local fence = redis.call('GET', KEYS[1]) or '0'
if fence ~= ARGV[1] then
  return {'fenced', fence}
end
"""

#: acquire. KEYS: fence, lease. ARGV: node, ttl in ms.
#: Returns the new token, or false while someone's lease is unexpired.
ACQUIRE: Final = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  return false
end
local token = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], token .. ' ' .. ARGV[1], 'NX', 'PX', ARGV[2])
return token
"""

#: renew. KEYS: fence, lease. ARGV: token, node, ttl in ms. Returns 1 or 0.
RENEW: Final = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then
  return 0
end
local mine = ARGV[1] .. ' ' .. ARGV[2]
local held = redis.call('GET', KEYS[2])
if held and held ~= mine then
  return 0
end
redis.call('SET', KEYS[2], mine, 'PX', ARGV[3])
return 1
"""

#: release. KEYS: lease. ARGV: token, node.
RELEASE: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] .. ' ' .. ARGV[2] then
  redis.call('DEL', KEYS[1])
end
return 1
"""

#: append. KEYS: fence, meta, log. ARGV: token, first seq, batch id, then per
#: record the number of its fields and their names and values, flattened.
#: Returns {'ok', last_seq}, {'fenced', fence} or {'seq', last_seq}. A batch
#: sent again (the driver retries when a reply is lost) finds its id in
#: ``meta`` and is answered {'ok'} without writing twice.
APPEND: Final = (
    _FENCE
    + """
local last = tonumber(redis.call('HGET', KEYS[2], 'last_seq') or '0')
local seq = tonumber(ARGV[2])
if seq ~= last + 1 then
  if redis.call('HGET', KEYS[2], 'last_batch') == ARGV[3] then
    return {'ok', tostring(last)}
  end
  return {'seq', tostring(last)}
end
local i = 4
while i <= #ARGV do
  local width = tonumber(ARGV[i]) * 2
  redis.call('XADD', KEYS[3], seq .. '-0', unpack(ARGV, i + 1, i + width))
  seq = seq + 1
  i = i + 1 + width
end
redis.call('HSET', KEYS[2], 'last_seq', tostring(seq - 1), 'last_batch', ARGV[3])
return {'ok', tostring(seq - 1)}
"""
)

#: snapshot. KEYS: fence, meta, log, snapshots, snapshot key. ARGV: token,
#: seq, version, crc, body, keep, retention in seconds ('' for none), key
#: prefix of snapshot hashes.
#: Stores the snapshot, keeps the latest ``keep``, and drops the records the
#: oldest kept one covers whose ``at`` is more than ``retention`` before the
#: last record's (a prefix of the log: XTRIM MINID).
SNAPSHOT: Final = (
    _FENCE
    + """
local seq = tonumber(ARGV[2])
local last = tonumber(redis.call('HGET', KEYS[2], 'last_seq') or '0')
if seq > last then
  return {'seq', tostring(last)}
end
local latest = redis.call('ZRANGE', KEYS[4], -1, -1)[1]
if latest and tonumber(latest) > seq then
  return {'back', latest}
end
redis.call('HSET', KEYS[5], 'version', ARGV[3], 'crc', ARGV[4], 'body', ARGV[5])
redis.call('ZADD', KEYS[4], seq, ARGV[2])
local keep = tonumber(ARGV[6])
local old = redis.call('ZRANGE', KEYS[4], 0, -(keep + 1))
for _, s in ipairs(old) do
  redis.call('DEL', ARGV[8] .. s)
  redis.call('ZREM', KEYS[4], s)
end
if ARGV[7] == '' then
  return {'ok', '0'}
end
local oldest = redis.call('ZRANGE', KEYS[4], 0, 0)[1]
local top = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)[1]
if not oldest or not top then
  return {'ok', '0'}
end
local function at_of(entry)
  local fields = entry[2]
  for j = 1, #fields, 2 do
    if fields[j] == 'at' then return tonumber(fields[j + 1]) end
  end
  return nil
end
local last_at = at_of(top)
if not last_at then
  return {'ok', '0'}
end
local cutoff = last_at - tonumber(ARGV[7])
local through = nil
local from = '-'
-- The log's times never go back (the router's clock refuses it), so the
-- records to drop are a prefix: stop at the first one that stays.
while true do
  local chunk = redis.call('XRANGE', KEYS[3], from, oldest .. '-0', 'COUNT', 500)
  if #chunk == 0 then break end
  local stop = false
  for _, entry in ipairs(chunk) do
    local at = at_of(entry)
    if not at or at >= cutoff then stop = true break end
    through = entry[1]
  end
  if stop or #chunk < 500 then break end
  from = '(' .. chunk[#chunk][1]
end
if not through then
  return {'ok', '0'}
end
local through_seq = tonumber(string.match(through, '^(%d+)'))
redis.call('XTRIM', KEYS[3], 'MINID', (through_seq + 1) .. '-0')
local pruned = tonumber(redis.call('HGET', KEYS[2], 'pruned_through') or '0')
if through_seq > pruned then
  redis.call('HSET', KEYS[2], 'pruned_through', tostring(through_seq))
end
return {'ok', tostring(through_seq)}
"""
)

#: Set aside the log's entries from seq ARGV[2] on (a damaged one and all
#: after it). KEYS: fence, meta, log, quarantine. ARGV: token, first seq,
#: reason of the first, reason of the others, time (UTC, ISO).
#: Returns {'ok', moved, last seq moved}.
SET_ASIDE_RECORDS: Final = (
    _FENCE
    + """
local first = tonumber(ARGV[2])
local entries = redis.call('XRANGE', KEYS[3], first .. '-0', '+')
local last = first
for _, entry in ipairs(entries) do
  local reason = ARGV[4]
  if entry[1] == first .. '-0' then reason = ARGV[3] end
  local fields = entry[2]
  redis.call('XADD', KEYS[4], '*', 'kind', 'record', 'id', entry[1], 'reason', reason,
    'set_aside_at', ARGV[5], unpack(fields))
  redis.call('XDEL', KEYS[3], entry[1])
  last = tonumber(string.match(entry[1], '^(%d+)')) or last
end
-- The next append writes seq `first` again: let the stream take that id.
redis.call('XSETID', KEYS[3], (first - 1) .. '-0')
redis.call('HSET', KEYS[2], 'last_seq', tostring(first - 1))
return {'ok', tostring(#entries), tostring(last)}
"""
)

#: Set aside one damaged snapshot. KEYS: fence, snapshots, snapshot key,
#: quarantine. ARGV: token, seq, reason, time.
SET_ASIDE_SNAPSHOT: Final = (
    _FENCE
    + """
local fields = redis.call('HGETALL', KEYS[3])
redis.call('XADD', KEYS[4], '*', 'kind', 'snapshot', 'id', ARGV[2], 'reason', ARGV[3],
  'set_aside_at', ARGV[4], unpack(fields))
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[2])
return {'ok'}
"""
)
