#!lua name=photofeed_feeds
-- The feeds group's fan-out on write and its tag timelines. Its seq-guarded posts and timelines
-- are photofeed_versioned's, its pages photofeed_pages'; projections/feeds/redis.py calls them.

-- Push one post into many home feeds. KEYS per feed: the feed and its "trimmed" marker; ARGV[1]:
-- the post id, ARGV[2]: its score (ms), ARGV[3]: the cap. Each feed keeps its `cap` newest entries
-- (ZADD of the same member is idempotent); the marker records that older history now lives only
-- in timelines. Returns the number of feeds.
local function feed_add(keys, args)
  local cut = -(tonumber(args[3]) + 1)
  for k = 1, #keys, 2 do
    redis.call('ZADD', keys[k], args[2], args[1])
    if redis.call('ZREMRANGEBYRANK', keys[k], 0, cut) > 0 then
      redis.call('SET', keys[k + 1], '1')
    end
  end
  return #keys / 2
end

-- Tag timelines. KEYS per entry: the post's tag record (hash: `tags`, the post's tags joined by
-- spaces, and `_v`, the seq of its last applied write). ARGV[1]: the template of a tag's timeline
-- key (`%s`: the tag), then per entry: post id, score (ms), seq, '1' published / '0' deleted, n,
-- then n tags. A publication adds the post to each tag's timeline and records the tags; a deletion
-- (which names none) removes it from the recorded ones and keeps the record as its tombstone, so
-- an older publication redelivered later cannot bring it back. Returns the entries applied.
local function set_post_tags(keys, args)
  local timeline, applied, a = args[1], 0, 2
  for k = 1, #keys do
    local post, score, seq, present, n = args[a], args[a + 1], args[a + 2], args[a + 3],
      tonumber(args[a + 4])
    local record = keys[k]
    local current = redis.call('HGET', record, '_v')
    if not current or current < seq then
      for tag in string.gmatch(redis.call('HGET', record, 'tags') or '', '%S+') do
        redis.call('ZREM', string.format(timeline, tag), post)
      end
      local tags = {}
      if present == '1' then
        for i = a + 5, a + 4 + n do
          redis.call('ZADD', string.format(timeline, args[i]), score, post)
          tags[#tags + 1] = args[i]
        end
        redis.call('HSET', record, '_v', seq, 'tags', table.concat(tags, ' '))
      else
        redis.call('HSET', record, '_v', seq)
      end
      applied = applied + 1
    end
    a = a + 5 + n
  end
  return applied
end

-- Authors' timelines changed: bump their stamps, which tell every viewer's pull cache
-- (photofeed_pages' pull_refresh) what to read again. KEYS per entry: the timeline, its stamp;
-- ARGV per entry: the row's score (ms), '1' written / '0' removed. A stamp is
-- "<changes>.<backdated>": every write counts a change; a row written below the timeline's newest
-- row also counts as backdated (a cache that read the timeline down to its newest row then reads
-- it whole again; otherwise it reads only what is newer). Called after the timeline writes in the
-- same batch; a redelivery's extra bump only costs a re-read.
local function bump_stamps(keys, args)
  for k = 1, #keys, 2 do
    local changes, backdated = string.match(redis.call('GET', keys[k + 1]) or '0.0',
                                            '^(%d+)%.(%d+)$')
    changes, backdated = tonumber(changes) + 1, tonumber(backdated)
    if args[k + 1] == '1' then
      local top = redis.call('ZRANGE', keys[k], -1, -1, 'WITHSCORES')
      if #top > 0 and tonumber(top[2]) > tonumber(args[k]) then backdated = backdated + 1 end
    end
    redis.call('SET', keys[k + 1], changes .. '.' .. backdated)
  end
  return #keys / 2
end

redis.register_function{function_name = 'feed_add', callback = feed_add}
redis.register_function{function_name = 'bump_stamps', callback = bump_stamps}
-- no-cluster: a deletion names the timelines of the tags it reads from the record at run time
redis.register_function{function_name = 'set_post_tags', callback = set_post_tags,
                        flags = {'no-cluster'}}
