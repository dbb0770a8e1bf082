"""Lua scripts of the engagement group: each applies a batch of likes, comments, follow notices,
reads or post deletions atomically, notification included (see redis_engagement.py).

Versions are zero-padded event ids compared as strings (Lua numbers are doubles). ARGV[1] and
ARGV[2] of every script are the caps: notification groups per recipient, actors kept per group.
A group's actor zset is `<group prefix><group>`, in the recipient's hash slot.
"""

from __future__ import annotations

_NOTICES = """
local CAP_GROUPS, CAP_ACTORS = tonumber(ARGV[1]), tonumber(ARGV[2])

-- meta fields of a group: <group>|n actor count, <group>|id the newest remaining actor's event
-- id (the notification's id), <group>|<actor> each kept actor's event id

local function drop_group(inbox, meta, gprefix, group)
  local gkey = gprefix .. group
  for _, actor in ipairs(redis.call('ZRANGE', gkey, 0, -1)) do
    redis.call('HDEL', meta, group .. '|' .. actor)
  end
  redis.call('ZREM', inbox, group)
  redis.call('DEL', gkey)
  redis.call('HDEL', meta, group .. '|n', group .. '|id')
end

-- the group's time and id become its newest remaining actor's: a function of who is in it, not
-- of the order events arrived in, so a replay rebuilds exactly what live agents built
local function refresh(inbox, meta, gkey, group)
  local top = redis.call('ZREVRANGE', gkey, 0, 0, 'WITHSCORES')
  if #top > 0 then
    redis.call('ZADD', inbox, top[2], group)
    redis.call('HSET', meta, group .. '|id', redis.call('HGET', meta, group .. '|' .. top[1]))
  end
end

-- the inbox keeps its CAP_GROUPS newest groups
local function trim_inbox(inbox, meta, gprefix)
  local excess = redis.call('ZCARD', inbox) - CAP_GROUPS
  if excess > 0 then
    for _, old in ipairs(redis.call('ZRANGE', inbox, 0, excess - 1)) do
      drop_group(inbox, meta, gprefix, old)
    end
  end
end

-- actor joins group: count +1, newest CAP_ACTORS actors kept, oldest groups trimmed
local function notice_add(inbox, meta, gprefix, group, actor, ms, version)
  local gkey = gprefix .. group
  redis.call('ZADD', gkey, ms, actor)
  redis.call('HSET', meta, group .. '|' .. actor, version)
  for _, old in ipairs(redis.call('ZRANGE', gkey, 0, -(CAP_ACTORS + 1))) do
    redis.call('HDEL', meta, group .. '|' .. old)
  end
  redis.call('ZREMRANGEBYRANK', gkey, 0, -(CAP_ACTORS + 1))
  redis.call('HINCRBY', meta, group .. '|n', 1)
  refresh(inbox, meta, gkey, group)
  trim_inbox(inbox, meta, gprefix)
end

-- actor leaves group (a retraction): the group disappears with its last actor
local function notice_remove(inbox, meta, gprefix, group, actor)
  if not redis.call('ZSCORE', inbox, group) then return end  -- trimmed, purged or never shown
  local gkey = gprefix .. group
  redis.call('ZREM', gkey, actor)
  redis.call('HDEL', meta, group .. '|' .. actor)
  if redis.call('HINCRBY', meta, group .. '|n', -1) <= 0 then
    drop_group(inbox, meta, gprefix, group)
  else
    refresh(inbox, meta, gkey, group)
  end
end
"""

# Likes, aggregated for the whole batch: one HGET and one HSET per (liker, post) pair, one
# count change per post, one update per notification group (a hot post's likes in one batch cost
# one group update, not one each), one trim per inbox that gained a group. No KEYS: key names are
# built from ARGV[3], the group's prefix, exactly as EngagementKeys builds them.
# ARGV per run (projections.engagement.logic.like_runs): post id, author id, liker, '1' notify,
# k, then k steps of version, '1' liked / '0' not, ms; versions increase within a run.
# The liker's hash holds flag .. version .. '|' .. author (the author: to retract on erasure).
# The count moves by the flips of the membership, in the same atomic step. A group keeps its
# newest CAP_ACTORS actors and an exact count `|n` of its actors; its kept actors are a subset of
# them, so it can only need trimming when `|n` exceeds CAP_ACTORS.
SET_LIKES = (
    _NOTICES
    + """
local prefix = ARGV[3]
local posts, post_order, groups, group_order, grown = {}, {}, {}, {}, {}
local applied = 0

local function post_of(id)
  local p = posts[id]
  if not p then
    p = {key = prefix .. ':p:{' .. id .. '}', delta = 0}
    posts[id] = p
    post_order[#post_order + 1] = id
  end
  return p
end

local function deleted(p)  -- a deleted post gains no like notifications
  if p.deleted == nil then p.deleted = redis.call('HEXISTS', p.key, 'deleted') == 1 end
  return p.deleted
end

-- the actor's latest notice in the group: ops[actor] is the ms it joined at (its version in
-- versions[actor]), or false when it left
local function note(author, post_id, actor, ms, version, step)
  local k = author .. ' ' .. post_id
  local g = groups[k]
  if not g then
    g = {author = author, post = post_id, delta = 0, ops = {}, versions = {}, actors = {}}
    groups[k] = g
    group_order[#group_order + 1] = k
  end
  if g.ops[actor] == nil then g.actors[#g.actors + 1] = actor end
  g.ops[actor], g.versions[actor] = ms, version
  g.delta = g.delta + step
end

local a = 4
while a <= #ARGV do
  local post_id, author, actor, notify = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local first, last = a + 5, a + 2 + 3 * tonumber(ARGV[a + 4])
  a = last + 3
  local liked = prefix .. ':u:{' .. actor .. '}:liked'
  local current = redis.call('HGET', liked, post_id)
  local version = current and string.sub(current, 2, 20)
  local was = current and string.sub(current, 1, 1) or '0'
  local flag, changed, p = was, false, post_of(post_id)
  for i = first, last, 3 do
    local v, f = ARGV[i], ARGV[i + 1]
    if not version or version < v then
      version, changed, applied = v, true, applied + 1
      if f ~= flag then
        flag = f
        if notify == '1' and f == '0' then
          note(author, post_id, actor, false, nil, -1)
        elseif notify == '1' and not deleted(p) then
          note(author, post_id, actor, ARGV[i + 2], v, 1)
        end
      end
    end
  end
  if changed then
    redis.call('HSET', liked, post_id, flag .. version .. '|' .. author)
    if flag ~= was then p.delta = p.delta + (flag == '1' and 1 or -1) end
  end
end

for _, id in ipairs(post_order) do
  local p = posts[id]
  if p.delta ~= 0 and redis.call('HINCRBY', p.key, 'likes', p.delta) == 0 then
    redis.call('HDEL', p.key, 'likes')  -- no likes: no field, however it came about
  end
end

-- the adds that can outlive the trim: those at least as new as the CAP_ACTORS-th newest
local function keepable(g, adds)
  if #adds <= CAP_ACTORS then return adds end
  local times = {}
  for i, actor in ipairs(adds) do times[i] = tonumber(g.ops[actor]) end
  table.sort(times, function(x, y) return x > y end)
  local out = {}
  for _, actor in ipairs(adds) do
    if tonumber(g.ops[actor]) >= times[CAP_ACTORS] then out[#out + 1] = actor end
  end
  return out
end

-- a command over many members, in slices (Lua's unpack takes a few thousand values at most)
local function sliced(cmd, key, values)
  for i = 1, #values, 1000 do
    redis.call(cmd, key, unpack(values, i, math.min(i + 999, #values)))
  end
end

local function update(g)
  local user = prefix .. ':u:{' .. g.author .. '}'
  local inbox, meta, gprefix = user .. ':inbox', user .. ':inbox:meta', user .. ':g:'
  local group = 'like:' .. g.post
  local gkey = gprefix .. group
  local score = redis.call('ZSCORE', inbox, group)
  local adds, removes = {}, {}
  for _, actor in ipairs(g.actors) do
    if g.ops[actor] then adds[#adds + 1] = actor elseif score then removes[#removes + 1] = actor end
  end
  local n = #adds  -- an absent group holds exactly the actors added now
  if score then n = redis.call('HINCRBY', meta, group .. '|n', g.delta) end
  if n <= 0 then
    if score then drop_group(inbox, meta, gprefix, group) end
    return
  end
  local fields = {}
  if #removes > 0 then
    for i, actor in ipairs(removes) do fields[i] = group .. '|' .. actor end
    sliced('ZREM', gkey, removes)
    sliced('HDEL', meta, fields)
  end
  adds = keepable(g, adds)
  local zargs, best, newest, tie = {}, nil, nil, false
  for _, actor in ipairs(adds) do
    local ms = tonumber(g.ops[actor])
    zargs[#zargs + 1], zargs[#zargs + 2] = g.ops[actor], actor
    if not best or ms > best then best, newest, tie = ms, actor, false
    elseif ms == best then tie = true end
  end
  sliced('ZADD', gkey, zargs)
  local evicted = {}
  if n > CAP_ACTORS then
    local old = redis.call('ZRANGE', gkey, 0, -(CAP_ACTORS + 1))
    if #old > 0 then
      fields = {}
      for i, actor in ipairs(old) do evicted[actor], fields[i] = true, group .. '|' .. actor end
      sliced('HDEL', meta, fields)
      redis.call('ZREMRANGEBYRANK', gkey, 0, #old - 1)
    end
  end
  local hargs = {}
  for _, actor in ipairs(adds) do
    if not evicted[actor] then
      hargs[#hargs + 1], hargs[#hargs + 2] = group .. '|' .. actor, g.versions[actor]
    end
  end
  if not score then
    hargs[#hargs + 1], hargs[#hargs + 2] = group .. '|n', n
    grown[g.author] = {inbox, meta, gprefix}
  end
  -- the group's time and id are its newest remaining actor's (see refresh)
  -- (no removes implies some adds: every op of an existing group is one or the other)
  local old_ms = score and tonumber(score)
  if #removes == 0 and old_ms and best < old_ms then
    -- every add is older than the newest actor, who stays: time and id unchanged
  elseif #removes == 0 and not tie and (not old_ms or best > old_ms) then
    redis.call('ZADD', inbox, g.ops[newest], group)  -- the newest actor is the newest add
    hargs[#hargs + 1], hargs[#hargs + 2] = group .. '|id', g.versions[newest]
  else
    local top = redis.call('ZREVRANGE', gkey, 0, 0, 'WITHSCORES')
    if #top > 0 then
      redis.call('ZADD', inbox, top[2], group)
      hargs[#hargs + 1], hargs[#hargs + 2] = group .. '|id',
        g.ops[top[1]] and g.versions[top[1]] or redis.call('HGET', meta, group .. '|' .. top[1])
    end
  end
  sliced('HSET', meta, hargs)
end

for _, k in ipairs(group_order) do update(groups[k]) end
for _, t in pairs(grown) do trim_inbox(t[1], t[2], t[3]) end
return applied
"""
)

# KEYS per entry: comment hash, post's comments zset, its version hash, post hash, author's inbox,
# inbox meta, the commenter's comment index. ARGV per entry: comment id, version, '1' present /
# '0' deleted, ms, post id, commenter, text, group, '1' notify, group prefix, post author.
# A deleted comment keeps no text; the index (comment -> post|author) keeps every comment the
# commenter ever wrote, so their erasure finds each one.
SET_COMMENTS = (
    _NOTICES
    + """
local applied, a = 0, 3
for k = 1, #KEYS, 7 do
  local body, comments, versions, post = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local inbox, meta, written = KEYS[k + 4], KEYS[k + 5], KEYS[k + 6]
  local comment, version, flag, ms, post_id, commenter, text, group, notify, gprefix, author =
    unpack(ARGV, a, a + 10)
  a = a + 11
  redis.call('HSET', written, comment, post_id .. '|' .. author)
  local current = redis.call('HGET', versions, comment)
  if not current or current < version then
    redis.call('HSET', versions, comment, version)
    local was = redis.call('ZSCORE', comments, comment) ~= false
    local now = flag == '1'
    if now then
      redis.call('ZADD', comments, ms, comment)
      redis.call('HSET', body, 'post_id', post_id, 'commenter_id', commenter, 'text', text,
                 'created_ms', ms)
    else
      redis.call('ZREM', comments, comment)
      redis.call('HSET', body, 'post_id', post_id, 'commenter_id', commenter, 'deleted', '1')
      redis.call('HDEL', body, 'text')
    end
    if notify == '1' and was ~= now then
      if not now then
        notice_remove(inbox, meta, gprefix, group, commenter)
      elseif redis.call('HEXISTS', post, 'deleted') == 0 then
        notice_add(inbox, meta, gprefix, group, commenter, ms, version)
      end
    end
    applied = applied + 1
  end
end
return applied
"""
)

# KEYS per entry: followee's follow-notice hash, inbox, inbox meta. ARGV per entry: follower,
# version, '1' follows / '0' not, ms, group (the day of a new follow), group prefix. The hash
# value is flag .. version .. '|' .. group, so an unfollow finds the group its follow joined.
SET_FOLLOW_NOTICES = (
    _NOTICES
    + """
local applied, a = 0, 3
for k = 1, #KEYS, 3 do
  local notices, inbox, meta = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  local follower, version, flag, ms, group, gprefix = unpack(ARGV, a, a + 5)
  a = a + 6
  local current = redis.call('HGET', notices, follower)
  if not current or string.sub(current, 2, 20) < version then
    local was = (current and string.sub(current, 1, 1) == '1') or false
    local joined = group
    if was then joined = string.sub(current, 22) end  -- still following: same notification
    redis.call('HSET', notices, follower, flag .. version .. '|' .. joined)
    if flag == '1' and not was then
      notice_add(inbox, meta, gprefix, group, follower, ms, version)
    elseif flag == '0' and was then
      notice_remove(inbox, meta, gprefix, joined, follower)
    end
    applied = applied + 1
  end
end
return applied
"""
)

# KEYS per entry: post hash, post's comments zset, author's inbox, inbox meta. ARGV per entry:
# the post's like group, the prefix of its comment groups, group prefix.
POST_GONE = (
    _NOTICES
    + """
local a = 3
for k = 1, #KEYS, 4 do
  local post, comments, inbox, meta = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local like_bundle, comment_prefix, gprefix = unpack(ARGV, a, a + 2)
  a = a + 3
  redis.call('HSET', post, 'deleted', '1')
  drop_group(inbox, meta, gprefix, like_bundle)
  for _, c in ipairs(redis.call('ZRANGE', comments, 0, -1)) do
    drop_group(inbox, meta, gprefix, comment_prefix .. c)
  end
end
return #KEYS / 4
"""
)

# KEYS per entry: inbox meta; ARGV per entry: up-to id (zero-padded). The mark only moves forward.
READ_UP_TO = """
for k = 1, #KEYS do
  local current = redis.call('HGET', KEYS[k], 'read')
  if not current or current < ARGV[k] then redis.call('HSET', KEYS[k], 'read', ARGV[k]) end
end
return #KEYS
"""

# Oldest-first page of a zset by (score, member) position, ties as Redis orders them (members
# ascending as bytes). KEYS[1] zset; ARGV[1] min score or '-inf'; ARGV[2] member of the last row
# shown ('' for the first page); ARGV[3] page size. Returns member, score pairs.
PAGE_AFTER = """
local min, after, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out, offset, batch = {}, 0, limit + 8
while #out < 2 * limit do
  local rows = redis.call('ZRANGE', KEYS[1], min, '+inf', 'BYSCORE',
                          'LIMIT', offset, batch, 'WITHSCORES')
  if #rows == 0 then break end
  for i = 1, #rows, 2 do
    local skip = after ~= '' and rows[i + 1] == min and rows[i] <= after
    if not skip and #out < 2 * limit then
      out[#out + 1] = rows[i]
      out[#out + 1] = rows[i + 1]
    end
  end
  offset = offset + batch
end
return out
"""

# Erase one user from the engagement group (see redis_erasure.py). No KEYS: names are built from
# ARGV[3], the prefix. ARGV: caps, prefix, user, n, then n users the user followed (their follow
# notices), then the user's own post ids.
ERASE_USER = (
    _NOTICES
    + """
local prefix, user, n = ARGV[3], ARGV[4], tonumber(ARGV[5])
local function inbox_of(id)
  local u = prefix .. ':u:{' .. id .. '}'
  return u .. ':inbox', u .. ':inbox:meta', u .. ':g:'
end
local u = prefix .. ':u:{' .. user .. '}'

local liked = redis.call('HGETALL', u .. ':liked')  -- post -> flag .. version .. '|' .. author
for i = 1, #liked, 2 do
  local post, value = liked[i], liked[i + 1]
  if string.sub(value, 1, 1) == '1' then
    local p = prefix .. ':p:{' .. post .. '}'
    if redis.call('HINCRBY', p, 'likes', -1) == 0 then redis.call('HDEL', p, 'likes') end
    local author = string.sub(value, 22)
    if author ~= user then
      local inbox, meta, gprefix = inbox_of(author)
      notice_remove(inbox, meta, gprefix, 'like:' .. post, user)
    end
  end
end

local written = redis.call('HGETALL', u .. ':comments')  -- comment -> post .. '|' .. author
for i = 1, #written, 2 do
  local comment = written[i]
  local post, author = string.match(written[i + 1], '^(%d+)|(%d+)$')
  local p = prefix .. ':p:{' .. post .. '}'
  redis.call('ZREM', p .. ':comments', comment)
  redis.call('HDEL', p .. ':comments:v', comment)
  redis.call('DEL', prefix .. ':c:{' .. comment .. '}')
  local inbox, meta, gprefix = inbox_of(author)
  drop_group(inbox, meta, gprefix, 'comment:' .. post .. ':' .. comment)
end

for i = 6, 5 + n do
  local notices = prefix .. ':u:{' .. ARGV[i] .. '}:follows:v'
  local value = redis.call('HGET', notices, user)
  if value then
    if string.sub(value, 1, 1) == '1' then
      local inbox, meta, gprefix = inbox_of(ARGV[i])
      notice_remove(inbox, meta, gprefix, string.sub(value, 22), user)
    end
    redis.call('HDEL', notices, user)
  end
end

for i = 6 + n, #ARGV do
  redis.call('HDEL', prefix .. ':p:{' .. ARGV[i] .. '}', 'deleted')
end

local inbox, meta, gprefix = inbox_of(user)
for _, group in ipairs(redis.call('ZRANGE', inbox, 0, -1)) do
  redis.call('DEL', gprefix .. group)
end
redis.call('DEL', u .. ':liked', u .. ':comments', u .. ':follows:v', inbox, meta)
return 1
"""
)

# Counts and the viewer's likes of a page of posts, in one call. No KEYS: names from ARGV[1], the
# prefix. ARGV[2] the viewer ('' when anonymous), then the post ids. Returns likes, comments,
# liked (1/0) per post.
STATS = """
local prefix, viewer = ARGV[1], ARGV[2]
local liked = prefix .. ':u:{' .. viewer .. '}:liked'
local out = {}
for i = 3, #ARGV do
  local post = prefix .. ':p:{' .. ARGV[i] .. '}'
  out[#out + 1] = tonumber(redis.call('HGET', post, 'likes') or '0')
  out[#out + 1] = redis.call('ZCARD', post .. ':comments')
  local mine = viewer ~= '' and redis.call('HGET', liked, ARGV[i])
  out[#out + 1] = (mine and string.sub(mine, 1, 1) == '1') and 1 or 0
end
return out
"""
