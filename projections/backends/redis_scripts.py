"""Lua scripts that make Redis writes conditional on the write's version (see writes.py).

Batch scripts declare every key they touch; on Redis Cluster a batch must hold keys of one hash
slot only (RedisGraph groups by slot when told it runs on a cluster). Versions are compared as
zero-padded strings: Lua numbers cannot hold a Snowflake id exactly.
"""

from __future__ import annotations

# A batch of hash updates. KEYS: one hash per entry. ARGV per entry: version field, version,
# n, then n field/value pairs ('' deletes the field). Returns how many entries were newer.
SET_FIELDS_IF_NEWER = """
local applied, a = 0, 1
for k = 1, #KEYS do
  local vfield, version, n = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  local current = redis.call('HGET', KEYS[k], vfield)
  if not current or current < version then
    redis.call('HSET', KEYS[k], vfield, version)
    for i = a + 3, a + 2 + 2 * n, 2 do
      if ARGV[i + 1] == '' then
        redis.call('HDEL', KEYS[k], ARGV[i])
      else
        redis.call('HSET', KEYS[k], ARGV[i], ARGV[i + 1])
      end
    end
    applied = applied + 1
  end
  a = a + 3 + 2 * n
end
return applied
"""

# A batch of set-membership updates. KEYS per entry: the zset and its version hash (member ->
# last version, tombstones included). ARGV per entry: member, score, version, '1' present or
# '0' absent. Returns how many entries were newer.
SET_MEMBERS_IF_NEWER = """
local applied = 0
for k = 1, #KEYS, 2 do
  local a = 2 * k - 1
  local member, score, version = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local current = redis.call('HGET', KEYS[k + 1], member)
  if not current or current < version then
    redis.call('HSET', KEYS[k + 1], member, version)
    if ARGV[a + 3] == '1' then
      redis.call('ZADD', KEYS[k], score, member)
    else
      redis.call('ZREM', KEYS[k], member)
    end
    applied = applied + 1
  end
end
return applied
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

# Push one post into many home feeds. KEYS per feed: the feed and its "trimmed" marker; ARGV[1]
# post id, ARGV[2] score (ms), ARGV[3] cap. Each feed keeps its `cap` newest entries (ZADD of the
# same member is idempotent); the marker records that older history now lives only in timelines.
FEED_ADD = """
local cut = -(tonumber(ARGV[3]) + 1)
for k = 1, #KEYS, 2 do
  redis.call('ZADD', KEYS[k], ARGV[2], ARGV[1])
  if redis.call('ZREMRANGEBYRANK', KEYS[k], 0, cut) > 0 then
    redis.call('SET', KEYS[k + 1], '1')
  end
end
return #KEYS / 2
"""

# Photos whose post was deleted. KEYS per entry: the photo hash; ARGV per entry: version, photo
# id, the prefix of content keys. When newer: status becomes 'deleted' and the photo leaves its
# content's reference set (the set named after the sha256 the photo hash records); content no
# photo references leaves the index (its variants may then be deleted from S3).
RELEASE_PHOTOS = """
for k = 1, #KEYS do
  local version, photo, prefix = ARGV[3 * k - 2], ARGV[3 * k - 1], ARGV[3 * k]
  local current = redis.call('HGET', KEYS[k], '_v')
  if not current or current < version then
    redis.call('HSET', KEYS[k], '_v', version, 'status', 'deleted')
    local sha = redis.call('HGET', KEYS[k], 'sha256')
    if sha then
      local refs = prefix .. '{' .. sha .. '}:refs'
      redis.call('SREM', refs, photo)
      if redis.call('SCARD', refs) == 0 then redis.call('DEL', prefix .. '{' .. sha .. '}') end
    end
  end
end
return #KEYS
"""

# Content references. KEYS per entry: the content hash, its reference set, the photo hash; ARGV
# per entry: photo id, n, then n field/value pairs. A deleted photo references nothing and adds
# nothing: the index then holds the same whatever order the photos and posts topics were read in.
ADD_CONTENT = """
local a = 1
for k = 1, #KEYS, 3 do
  local photo, n = ARGV[a], tonumber(ARGV[a + 1])
  if redis.call('HGET', KEYS[k + 2], 'status') ~= 'deleted' then
    for i = a + 2, a + 2 * n, 2 do redis.call('HSET', KEYS[k], ARGV[i], ARGV[i + 1]) end
    redis.call('SADD', KEYS[k + 1], photo)
  end
  a = a + 2 + 2 * n
end
return #KEYS / 3
"""

# The celebrities each user follows, kept beside the follow edges (the home feed merges their
# timelines at read time without reading the whole following set). KEYS[1] the celebrity set,
# then per entry: the follower's following zset and followed-celebrities set; ARGV per entry:
# the followee. Derived from the current state, so any order of follows and flags converges.
SYNC_CELEBRITIES_FOLLOWED = """
for k = 2, #KEYS, 2 do
  local followee = ARGV[k / 2]
  if redis.call('ZSCORE', KEYS[k], followee) and
     redis.call('SISMEMBER', KEYS[1], followee) == 1 then
    redis.call('SADD', KEYS[k + 1], followee)
  else
    redis.call('SREM', KEYS[k + 1], followee)
  end
end
return #ARGV
"""

# A user becomes a celebrity (one-way): into the celebrity set, and into the followed-celebrities
# set of each current follower. KEYS[1] the celebrity set, KEYS[2] the user's followers zset;
# ARGV[1] the user, ARGV[2] the followed-celebrities key template (`%s`: the follower).
FLAG_CELEBRITY = """
redis.call('SADD', KEYS[1], ARGV[1])
local followers = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, follower in ipairs(followers) do
  redis.call('SADD', string.format(ARGV[2], follower), ARGV[1])
end
return #followers
"""
