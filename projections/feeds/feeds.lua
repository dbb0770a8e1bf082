#!lua name=photofeed_feeds
-- The feeds group's fan-out on write. Its seq-guarded posts and timelines are
-- photofeed_versioned's, its pages photofeed_pages'; projections/feeds/redis.py calls them.

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

redis.register_function{function_name = 'feed_add', callback = feed_add}
