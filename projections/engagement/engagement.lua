#!lua name=photofeed_engagement
-- The engagement group in Valkey: each writing function applies a batch of likes, comments,
-- follow notices, reads or post deletions atomically, notifications included; erase_user takes
-- one user out of it, post_stats reads a page's counts. projections/engagement/redis.py and
-- projections/erasure/redis.py call them by name.
--
-- Seqs are zero-padded event ids compared as strings (Lua numbers are doubles). ARGV[1] and
-- ARGV[2] of every writing function are the caps: notification bundles per recipient, actors kept
-- per bundle. Keys a function knows before it runs come in KEYS. A bundle's actor zset is
-- `<bundles prefix><bundle>`, in the recipient's hash slot, and is named at run time (an inbox
-- trim drops whichever bundles are oldest); the batched likes and the erasure meet posts and
-- users as they go and name their keys from templates of EngagementKeys (`%s`: the id, see
-- projections/backends/keys.py). Functions that name keys at run time are flagged `no-cluster`:
-- a Redis Cluster deployment keeps this group on one shard, or moves it to Cassandra.
--
-- Mentions: the users a text mentions are met at run time too, so the functions that tell or
-- retract them take the templates of a recipient's inbox, inbox meta and bundles prefix
-- (`recipients` below). A comment keeps its mentions in its hash (`mentions`: the lines
-- `<user id> <mention JSON>` of projections/text.py), a post the users its caption mentions
-- (`mentioned` in the post hash, ids joined by spaces), so a deletion knows whom to retract.

-- Notice helpers. An inbox is a zset bundle -> newest activity ms, beside its meta hash (fields of
-- a bundle: <bundle>|n its actor count, <bundle>|id the newest remaining actor's event id, the
-- notification's id, <bundle>|<actor> each kept actor's event id) and the prefix of its bundles'
-- actor zsets. `caps`: {bundles = per inbox, actors = per bundle}.

local function caps_of(args)
  return {bundles = tonumber(args[1]), actors = tonumber(args[2])}
end

-- A key template as a function of the id: one concatenation of its two sides per key
-- (string.format costs several times as much, and the batched likes name ~3 keys per like).
local function keyer(template)
  local at = string.find(template, '%s', 1, true)
  local before, after = string.sub(template, 1, at - 1), string.sub(template, at + 2)
  return function(id) return before .. id .. after end
end

local function drop_bundle(inbox, meta, bprefix, bundle)
  local bkey = bprefix .. bundle
  for _, actor in ipairs(redis.call('ZRANGE', bkey, 0, -1)) do
    redis.call('HDEL', meta, bundle .. '|' .. actor)
  end
  redis.call('ZREM', inbox, bundle)
  redis.call('DEL', bkey)
  redis.call('HDEL', meta, bundle .. '|n', bundle .. '|id')
end

-- the bundle's time and id become its newest remaining actor's: a function of who is in it, not
-- of the order events arrived in, so a replay rebuilds exactly what live agents built
local function refresh(inbox, meta, bkey, bundle)
  local top = redis.call('ZREVRANGE', bkey, 0, 0, 'WITHSCORES')
  if #top > 0 then
    redis.call('ZADD', inbox, top[2], bundle)
    redis.call('HSET', meta, bundle .. '|id', redis.call('HGET', meta, bundle .. '|' .. top[1]))
  end
end

-- the inbox keeps its caps.bundles newest bundles
local function trim_inbox(caps, inbox, meta, bprefix)
  local excess = redis.call('ZCARD', inbox) - caps.bundles
  if excess > 0 then
    for _, old in ipairs(redis.call('ZRANGE', inbox, 0, excess - 1)) do
      drop_bundle(inbox, meta, bprefix, old)
    end
  end
end

-- actor joins bundle: count +1, newest caps.actors actors kept, oldest bundles trimmed
local function notice_add(caps, inbox, meta, bprefix, bundle, actor, ms, seq)
  local bkey = bprefix .. bundle
  redis.call('ZADD', bkey, ms, actor)
  redis.call('HSET', meta, bundle .. '|' .. actor, seq)
  for _, old in ipairs(redis.call('ZRANGE', bkey, 0, -(caps.actors + 1))) do
    redis.call('HDEL', meta, bundle .. '|' .. old)
  end
  redis.call('ZREMRANGEBYRANK', bkey, 0, -(caps.actors + 1))
  redis.call('HINCRBY', meta, bundle .. '|n', 1)
  refresh(inbox, meta, bkey, bundle)
  trim_inbox(caps, inbox, meta, bprefix)
end

-- actor leaves bundle (a retraction): the bundle disappears with its last actor
local function notice_remove(inbox, meta, bprefix, bundle, actor)
  if not redis.call('ZSCORE', inbox, bundle) then return end  -- trimmed, purged or never shown
  local bkey = bprefix .. bundle
  redis.call('ZREM', bkey, actor)
  redis.call('HDEL', meta, bundle .. '|' .. actor)
  if redis.call('HINCRBY', meta, bundle .. '|n', -1) <= 0 then
    drop_bundle(inbox, meta, bprefix, bundle)
  else
    refresh(inbox, meta, bkey, bundle)
  end
end

-- The inbox, meta and bundles prefix of user `id` from templates {inbox, meta, bundles}.
local function recipient(tpl, id)
  return string.format(tpl.inbox, id), string.format(tpl.meta, id), string.format(tpl.bundles, id)
end

local function recipients_of(args, from)
  return {inbox = args[from], meta = args[from + 1], bundles = args[from + 2]}
end

-- The distinct users of a text's stored mentions (see above), but `author`.
local function mentioned_in(stored, author)
  local out, seen = {}, {}
  for id in string.gmatch(stored or '', '(%d+) [^\n]*') do
    if id ~= author and not seen[id] then
      seen[id] = true
      out[#out + 1] = id
    end
  end
  return out
end

-- Retract the bundle from each user's inbox (a mention's bundle has its one actor).
local function drop_from(tpl, users, bundle)
  for _, id in ipairs(users) do
    local inbox, meta, bprefix = recipient(tpl, id)
    drop_bundle(inbox, meta, bprefix, bundle)
  end
end

-- a command over many members, in slices (Lua's unpack takes a few thousand values at most)
local function sliced(cmd, key, values)
  for i = 1, #values, 1000 do
    redis.call(cmd, key, unpack(values, i, math.min(i + 999, #values)))
  end
end

-- Likes, aggregated for the whole batch: one HGET and one HSET per (liker, post) pair, one
-- count change per post, one update per notification bundle (a hot post's likes in one batch
-- cost one bundle update, not one each), one trim per inbox that gained a bundle. KEYS: none (the
-- batch meets its posts and users as it goes). ARGV: the caps, then the key templates of a post
-- hash, a liked hash, an inbox, an inbox meta and a bundles prefix, then per run
-- (projections.engagement.logic.like_runs): post id, author id, liker, '1' notify, k, then k
-- steps of seq, '1' liked / '0' not, ms; seqs increase within a run.
-- The liker's hash holds flag .. seq .. '|' .. author (the author: to retract on erasure).
-- The count moves by the flips of the membership, in the same atomic step. A bundle keeps its
-- newest caps.actors actors and an exact count `|n` of its actors; its kept actors are a subset
-- of them, so it can only need trimming when `|n` exceeds caps.actors. Returns the steps applied.
local function set_likes(_, args)
  local caps = caps_of(args)
  local post_key, liked_key, inbox_key, meta_key, bundles_key =
    keyer(args[3]), keyer(args[4]), keyer(args[5]), keyer(args[6]), keyer(args[7])
  local posts, post_order, bundles, bundle_order, grown = {}, {}, {}, {}, {}
  local applied = 0

  local function post_of(id)
    local p = posts[id]
    if not p then
      p = {key = post_key(id), delta = 0}
      posts[id] = p
      post_order[#post_order + 1] = id
    end
    return p
  end

  local function deleted(p)  -- a deleted post gains no like notifications
    if p.deleted == nil then p.deleted = redis.call('HEXISTS', p.key, 'deleted') == 1 end
    return p.deleted
  end

  -- the actor's latest notice in the bundle: ops[actor] is the ms it joined at (its seq in
  -- seqs[actor]), or false when it left
  local function note(author, post_id, actor, ms, seq, step)
    local k = author .. ' ' .. post_id
    local b = bundles[k]
    if not b then
      b = {author = author, post = post_id, delta = 0, ops = {}, seqs = {}, actors = {}}
      bundles[k] = b
      bundle_order[#bundle_order + 1] = k
    end
    if b.ops[actor] == nil then b.actors[#b.actors + 1] = actor end
    b.ops[actor], b.seqs[actor] = ms, seq
    b.delta = b.delta + step
  end

  local a = 8
  while a <= #args do
    local post_id, author, actor, notify = args[a], args[a + 1], args[a + 2], args[a + 3]
    local first, last = a + 5, a + 2 + 3 * tonumber(args[a + 4])
    a = last + 3
    local liked = liked_key(actor)
    local current = redis.call('HGET', liked, post_id)
    local seq = current and string.sub(current, 2, 20)
    local was = current and string.sub(current, 1, 1) or '0'
    local flag, changed, p = was, false, post_of(post_id)
    for i = first, last, 3 do
      local v, f = args[i], args[i + 1]
      if not seq or seq < v then
        seq, changed, applied = v, true, applied + 1
        if f ~= flag then
          flag = f
          if notify == '1' and f == '0' then
            note(author, post_id, actor, false, nil, -1)
          elseif notify == '1' and not deleted(p) then
            note(author, post_id, actor, args[i + 2], v, 1)
          end
        end
      end
    end
    if changed then
      redis.call('HSET', liked, post_id, flag .. seq .. '|' .. author)
      if flag ~= was then p.delta = p.delta + (flag == '1' and 1 or -1) end
    end
  end

  for _, id in ipairs(post_order) do
    local p = posts[id]
    if p.delta ~= 0 and redis.call('HINCRBY', p.key, 'likes', p.delta) == 0 then
      redis.call('HDEL', p.key, 'likes')  -- no likes: no field, however it came about
    end
  end

  -- the adds that can outlive the trim: those at least as new as the caps.actors-th newest
  local function keepable(b, adds)
    if #adds <= caps.actors then return adds end
    local times = {}
    for i, actor in ipairs(adds) do times[i] = tonumber(b.ops[actor]) end
    table.sort(times, function(x, y) return x > y end)
    local out = {}
    for _, actor in ipairs(adds) do
      if tonumber(b.ops[actor]) >= times[caps.actors] then out[#out + 1] = actor end
    end
    return out
  end

  local function update(b)
    local inbox = inbox_key(b.author)
    local meta = meta_key(b.author)
    local bprefix = bundles_key(b.author)
    local bundle = 'like:' .. b.post
    local bkey = bprefix .. bundle
    local score = redis.call('ZSCORE', inbox, bundle)
    local adds, removes = {}, {}
    for _, actor in ipairs(b.actors) do
      if b.ops[actor] then
        adds[#adds + 1] = actor
      elseif score then
        removes[#removes + 1] = actor
      end
    end
    local n = #adds  -- an absent bundle holds exactly the actors added now
    if score then n = redis.call('HINCRBY', meta, bundle .. '|n', b.delta) end
    if n <= 0 then
      if score then drop_bundle(inbox, meta, bprefix, bundle) end
      return
    end
    local fields = {}
    if #removes > 0 then
      for i, actor in ipairs(removes) do fields[i] = bundle .. '|' .. actor end
      sliced('ZREM', bkey, removes)
      sliced('HDEL', meta, fields)
    end
    -- every actor that ends the batch in the bundle joined it now (none left and came back): only
    -- then can the newest actor be known to stay where it was
    local all_joined = b.delta == #adds
    adds = keepable(b, adds)
    local zargs, best, newest, tie = {}, nil, nil, false
    for _, actor in ipairs(adds) do
      local ms = tonumber(b.ops[actor])
      zargs[#zargs + 1], zargs[#zargs + 2] = b.ops[actor], actor
      if not best or ms > best then best, newest, tie = ms, actor, false
      elseif ms == best then tie = true end
    end
    sliced('ZADD', bkey, zargs)
    local evicted = {}
    if n > caps.actors then
      local old = redis.call('ZRANGE', bkey, 0, -(caps.actors + 1))
      if #old > 0 then
        fields = {}
        for i, actor in ipairs(old) do evicted[actor], fields[i] = true, bundle .. '|' .. actor end
        sliced('HDEL', meta, fields)
        redis.call('ZREMRANGEBYRANK', bkey, 0, #old - 1)
      end
    end
    local hargs = {}
    for _, actor in ipairs(adds) do
      if not evicted[actor] then
        hargs[#hargs + 1], hargs[#hargs + 2] = bundle .. '|' .. actor, b.seqs[actor]
      end
    end
    if not score then
      hargs[#hargs + 1], hargs[#hargs + 2] = bundle .. '|n', n
      grown[b.author] = {inbox, meta, bprefix}
    end
    -- the bundle's time and id are its newest remaining actor's (see refresh)
    -- (no removes implies some adds: every op of an existing bundle is one or the other)
    local old_ms = score and tonumber(score)
    if #removes == 0 and all_joined and old_ms and best < old_ms then
      -- every add is a new actor older than the newest one, who stays: time and id unchanged
    elseif #removes == 0 and not tie and (not old_ms or best > old_ms) then
      redis.call('ZADD', inbox, b.ops[newest], bundle)  -- the newest actor is the newest add
      hargs[#hargs + 1], hargs[#hargs + 2] = bundle .. '|id', b.seqs[newest]
    else
      local top = redis.call('ZREVRANGE', bkey, 0, 0, 'WITHSCORES')
      if #top > 0 then
        redis.call('ZADD', inbox, top[2], bundle)
        hargs[#hargs + 1], hargs[#hargs + 2] = bundle .. '|id',
          b.ops[top[1]] and b.seqs[top[1]] or redis.call('HGET', meta, bundle .. '|' .. top[1])
      end
    end
    sliced('HSET', meta, hargs)
  end

  for _, k in ipairs(bundle_order) do update(bundles[k]) end
  for _, t in pairs(grown) do trim_inbox(caps, t[1], t[2], t[3]) end
  return applied
end

-- KEYS per entry: comment hash, post's comments zset, its seq hash, post hash, author's inbox,
-- inbox meta, the commenter's comment index. ARGV: the caps, the recipients' templates (inbox,
-- meta, bundles prefix), then per entry: comment id, seq, '1' present / '0' deleted, ms, post id,
-- commenter, text, bundle, '1' notify, bundles prefix, post author, its mentions (stored form),
-- the users they tell (ids joined by spaces). A deleted comment keeps no text and no mentions,
-- and retracts what it told; the index (comment -> post|author) keeps every comment the
-- commenter ever wrote, so their erasure finds each one. A comment's mentions live and die with
-- the comment alone: whether its post was deleted decides nothing here (the pages hide the
-- notifications of a deleted post), so a post author's erasure, which a replay sees as a post
-- never deleted, leaves them as a replay builds them. Returns the entries applied.
local function set_comments(keys, args)
  local caps = caps_of(args)
  local tpl = recipients_of(args, 3)
  local applied, a = 0, 6
  for k = 1, #keys, 7 do
    local body, comments, seqs, post = keys[k], keys[k + 1], keys[k + 2], keys[k + 3]
    local inbox, meta, written = keys[k + 4], keys[k + 5], keys[k + 6]
    local comment, seq, flag, ms, post_id, commenter, text, bundle, notify, bprefix, author,
      mentions, told = unpack(args, a, a + 12)
    a = a + 13
    redis.call('HSET', written, comment, post_id .. '|' .. author)
    local current = redis.call('HGET', seqs, comment)
    if not current or current < seq then
      redis.call('HSET', seqs, comment, seq)
      local was = redis.call('ZSCORE', comments, comment) ~= false
      local now = flag == '1'
      local mention = 'mention:' .. post_id .. ':' .. comment
      if now then
        redis.call('ZADD', comments, ms, comment)
        redis.call('HSET', body, 'post_id', post_id, 'commenter_id', commenter, 'text', text,
                   'created_ms', ms)
        if mentions ~= '' then redis.call('HSET', body, 'mentions', mentions) end
      else
        if was then drop_from(tpl, mentioned_in(redis.call('HGET', body, 'mentions'), commenter),
                              mention) end
        redis.call('ZREM', comments, comment)
        redis.call('HSET', body, 'post_id', post_id, 'commenter_id', commenter, 'deleted', '1')
        redis.call('HDEL', body, 'text', 'mentions')
      end
      if notify == '1' and was ~= now then
        if not now then
          notice_remove(inbox, meta, bprefix, bundle, commenter)
        elseif redis.call('HEXISTS', post, 'deleted') == 0 then
          notice_add(caps, inbox, meta, bprefix, bundle, commenter, ms, seq)
        end
      end
      if now and not was then
        for id in string.gmatch(told, '%d+') do
          local r_inbox, r_meta, r_bprefix = recipient(tpl, id)
          notice_add(caps, r_inbox, r_meta, r_bprefix, mention, commenter, ms, seq)
        end
      end
      applied = applied + 1
    end
  end
  return applied
end

-- A post's caption mentions. KEYS per entry: the post hash. ARGV: the caps, the recipients'
-- templates, then per entry: post id, author, ms, seq, the users mentioned and the users told
-- (each as ids joined by spaces). A post gets them once, while not deleted: a republication of
-- the same post (a redelivered upload) finds them recorded. Returns the entries applied.
local function set_post_mentions(keys, args)
  local caps = caps_of(args)
  local tpl = recipients_of(args, 3)
  local applied, a = 0, 6
  for k = 1, #keys do
    local post = keys[k]
    local post_id, author, ms, seq, mentioned, told = unpack(args, a, a + 5)
    a = a + 6
    if redis.call('HEXISTS', post, 'deleted') == 0 and
       redis.call('HEXISTS', post, 'mentioned') == 0 then
      redis.call('HSET', post, 'mentioned', mentioned)
      for id in string.gmatch(told, '%d+') do
        local inbox, meta, bprefix = recipient(tpl, id)
        notice_add(caps, inbox, meta, bprefix, 'mention:' .. post_id, author, ms, seq)
      end
      applied = applied + 1
    end
  end
  return applied
end

-- KEYS per entry: the followee's follow-notice hash, inbox, inbox meta. ARGV: the caps, then per
-- entry: follower, seq, '1' follows / '0' not, ms, bundle (the day of a new follow), bundles
-- prefix. The hash value is flag .. seq .. '|' .. bundle, so an unfollow finds the bundle its
-- follow joined. Returns the entries applied.
local function set_follow_notices(keys, args)
  local caps = caps_of(args)
  local applied, a = 0, 3
  for k = 1, #keys, 3 do
    local notices, inbox, meta = keys[k], keys[k + 1], keys[k + 2]
    local follower, seq, flag, ms, bundle, bprefix = unpack(args, a, a + 5)
    a = a + 6
    local current = redis.call('HGET', notices, follower)
    if not current or string.sub(current, 2, 20) < seq then
      local was = (current and string.sub(current, 1, 1) == '1') or false
      local joined = bundle
      if was then joined = string.sub(current, 22) end  -- still following: same notification
      redis.call('HSET', notices, follower, flag .. seq .. '|' .. joined)
      if flag == '1' and not was then
        notice_add(caps, inbox, meta, bprefix, bundle, follower, ms, seq)
      elseif flag == '0' and was then
        notice_remove(inbox, meta, bprefix, joined, follower)
      end
      applied = applied + 1
    end
  end
  return applied
end

-- KEYS per entry: post hash, post's comments zset, author's inbox, inbox meta. ARGV: the caps,
-- the recipients' templates, then per entry: the post's like bundle, the prefix of its comment
-- bundles, the bundles prefix, the post id. Its caption's mentions are retracted too (its
-- comments' stay with the comments: see set_comments). Returns the number of entries.
local function post_gone(keys, args)
  local tpl = recipients_of(args, 3)
  local a = 6
  for k = 1, #keys, 4 do
    local post, comments, inbox, meta = keys[k], keys[k + 1], keys[k + 2], keys[k + 3]
    local like_bundle, comment_prefix, bprefix, post_id = unpack(args, a, a + 3)
    a = a + 4
    redis.call('HSET', post, 'deleted', '1')
    drop_bundle(inbox, meta, bprefix, like_bundle)
    local mentioned = {}
    for id in string.gmatch(redis.call('HGET', post, 'mentioned') or '', '%d+') do
      mentioned[#mentioned + 1] = id
    end
    drop_from(tpl, mentioned, 'mention:' .. post_id)
    for _, c in ipairs(redis.call('ZRANGE', comments, 0, -1)) do
      drop_bundle(inbox, meta, bprefix, comment_prefix .. c)
    end
  end
  return #keys / 4
end

-- KEYS per entry: an inbox meta; ARGV per entry: the up-to id (zero-padded). The mark only moves
-- forward. Returns the number of entries.
local function read_up_to(keys, args)
  for k = 1, #keys do
    local current = redis.call('HGET', keys[k], 'read')
    if not current or current < args[k] then redis.call('HSET', keys[k], 'read', args[k]) end
  end
  return #keys
end

-- Erase one user from the engagement group (see projections/erasure/redis.py). KEYS: the user's
-- liked hash, comment index, follow-notice hash, inbox and inbox meta; then per user they
-- followed: that user's follow-notice hash, inbox and inbox meta; then the user's own post
-- hashes. ARGV: the caps, the user, n (the users they followed), those n users, then the key
-- templates of a post hash, its comments zset, its comments' seq hash, a comment hash, an inbox,
-- an inbox meta and a bundles prefix (the posts they liked and commented on, those posts'
-- authors and the users they mentioned are met as the function reads), then the ids of the
-- user's own posts (as their hashes in KEYS). What their captions and comments mentioned is
-- retracted. Returns 1.
local function erase_user(keys, args)
  local caps = caps_of(args)
  local user, n = args[3], tonumber(args[4])
  local t = 5 + n
  local post_key, comments_key, comment_seqs_key, comment_key = args[t], args[t + 1],
    args[t + 2], args[t + 3]
  local inbox_key, meta_key, bundles_key = args[t + 4], args[t + 5], args[t + 6]
  local tpl = recipients_of(args, t + 4)
  local function bundles_of(id)
    return string.format(bundles_key, id)
  end

  local liked = redis.call('HGETALL', keys[1])  -- post -> flag .. seq .. '|' .. author
  for i = 1, #liked, 2 do
    local post, value = liked[i], liked[i + 1]
    if string.sub(value, 1, 1) == '1' then
      local p = string.format(post_key, post)
      if redis.call('HINCRBY', p, 'likes', -1) == 0 then redis.call('HDEL', p, 'likes') end
      local author = string.sub(value, 22)
      if author ~= user then
        notice_remove(string.format(inbox_key, author), string.format(meta_key, author),
                      bundles_of(author), 'like:' .. post, user)
      end
    end
  end

  local written = redis.call('HGETALL', keys[2])  -- comment -> post .. '|' .. author
  for i = 1, #written, 2 do
    local comment = written[i]
    local post, author = string.match(written[i + 1], '^(%d+)|(%d+)$')
    local body = string.format(comment_key, comment)
    drop_from(tpl, mentioned_in(redis.call('HGET', body, 'mentions'), user),
              'mention:' .. post .. ':' .. comment)
    redis.call('ZREM', string.format(comments_key, post), comment)
    redis.call('HDEL', string.format(comment_seqs_key, post), comment)
    redis.call('DEL', body)
    drop_bundle(string.format(inbox_key, author), string.format(meta_key, author),
                bundles_of(author), 'comment:' .. post .. ':' .. comment)
  end

  for i = 1, n do
    local followee = args[4 + i]
    local notices, inbox, meta = keys[3 + 3 * i], keys[4 + 3 * i], keys[5 + 3 * i]
    local value = redis.call('HGET', notices, user)
    if value then
      if string.sub(value, 1, 1) == '1' then
        notice_remove(inbox, meta, bundles_of(followee), string.sub(value, 22), user)
      end
      redis.call('HDEL', notices, user)
    end
  end

  for k = 6 + 3 * n, #keys do
    local mentioned = {}
    for id in string.gmatch(redis.call('HGET', keys[k], 'mentioned') or '', '%d+') do
      mentioned[#mentioned + 1] = id
    end
    drop_from(tpl, mentioned, 'mention:' .. args[t + 7 + k - (6 + 3 * n)])
    redis.call('HDEL', keys[k], 'deleted', 'mentioned')
  end

  local bprefix = bundles_of(user)
  for _, bundle in ipairs(redis.call('ZRANGE', keys[4], 0, -1)) do
    redis.call('DEL', bprefix .. bundle)
  end
  redis.call('DEL', keys[1], keys[2], keys[3], keys[4], keys[5])
  return 1
end

-- Counts and the viewer's likes of a page of posts, in one call. KEYS[1]: the viewer's liked
-- hash ('' when anonymous), then per post: the post hash, its comments zset. ARGV: the post ids.
-- Returns likes, comments, liked (1/0) per post.
local function post_stats(keys, args)
  local liked = keys[1]
  local out = {}
  for i = 1, #args do
    out[#out + 1] = tonumber(redis.call('HGET', keys[2 * i], 'likes') or '0')
    out[#out + 1] = redis.call('ZCARD', keys[2 * i + 1])
    local mine = liked ~= '' and redis.call('HGET', liked, args[i])
    out[#out + 1] = (mine and string.sub(mine, 1, 1) == '1') and 1 or 0
  end
  return out
end

-- no-cluster: the batch names the keys of the posts, likers and authors it meets at run time
redis.register_function{function_name = 'set_likes', callback = set_likes, flags = {'no-cluster'}}
-- no-cluster (these four): an inbox trim names the bundles it drops at run time, and mentions
-- name their recipients' keys
redis.register_function{function_name = 'set_comments', callback = set_comments,
                        flags = {'no-cluster'}}
redis.register_function{function_name = 'set_follow_notices', callback = set_follow_notices,
                        flags = {'no-cluster'}}
redis.register_function{function_name = 'set_post_mentions', callback = set_post_mentions,
                        flags = {'no-cluster'}}
redis.register_function{function_name = 'post_gone', callback = post_gone, flags = {'no-cluster'}}
redis.register_function{function_name = 'read_up_to', callback = read_up_to}
-- no-cluster: the erasure names the keys of what the user liked and commented on as it reads
redis.register_function{function_name = 'erase_user', callback = erase_user,
                        flags = {'no-cluster'}}
redis.register_function{function_name = 'post_stats', callback = post_stats, flags = {'no-writes'}}
