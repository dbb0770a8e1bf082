"""Lua scripts that make Redis writes conditional on the write's version (see writes.py).

Each script touches keys of one hash tag only, so it runs unchanged on Redis Cluster.
Versions are compared as zero-padded strings: Lua numbers cannot hold a Snowflake id exactly.
"""

from __future__ import annotations

# KEYS[1] hash; ARGV[1] version field; ARGV[2] version; ARGV[3..] field, value pairs ('' deletes)
SET_FIELDS_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and current >= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1
"""

# KEYS[1] zset of members; KEYS[2] hash member -> version (tombstones included)
# ARGV[1] member; ARGV[2] score; ARGV[3] version; ARGV[4] '1' present / '0' absent
SET_MEMBER_IF_NEWER = """
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current and current >= ARGV[3] then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return 1
"""

# Newest-first page of a zset by (score, member) position, ties ordered as Redis orders them
# (members descending as bytes). KEYS[1] zset; ARGV[1] max score or '+inf'; ARGV[2] member of the
# last row shown ('' for the first page); ARGV[3] page size. Returns member, score pairs.
PAGE_BEFORE = """
local max, after, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out, offset, batch = {}, 0, limit + 8
while #out < 2 * limit do
  local rows = redis.call('ZRANGE', KEYS[1], max, '-inf', 'BYSCORE', 'REV',
                          'LIMIT', offset, batch, 'WITHSCORES')
  if #rows == 0 then break end
  for i = 1, #rows, 2 do
    local skip = after ~= '' and rows[i + 1] == max and rows[i] >= after
    if not skip and #out < 2 * limit then
      out[#out + 1] = rows[i]
      out[#out + 1] = rows[i + 1]
    end
  end
  offset = offset + batch
end
return out
"""
