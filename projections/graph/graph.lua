#!lua name=photofeed_graph
-- The graph group's own writes: the celebrities each user follows, kept beside the follow edges
-- (the home feed merges their timelines at read time without reading the whole following set).
-- Its seq-guarded writes are photofeed_versioned's; projections/graph/redis.py calls both.

-- Derived from the current state, so any order of follows and flags converges. KEYS[1]: the
-- celebrity set, then per entry the follower's following zset and followed-celebrities set;
-- ARGV per entry: the followee. Returns the number of entries.
local function sync_celebrities_followed(keys, args)
  for k = 2, #keys, 2 do
    local followee = args[k / 2]
    if redis.call('ZSCORE', keys[k], followee) and
       redis.call('SISMEMBER', keys[1], followee) == 1 then
      redis.call('SADD', keys[k + 1], followee)
    else
      redis.call('SREM', keys[k + 1], followee)
    end
  end
  return #args
end

-- A user becomes a celebrity (one-way): into the celebrity set, and into the followed-celebrities
-- set of each current follower. KEYS[1]: the celebrity set, KEYS[2]: the user's followers zset;
-- ARGV[1]: the user, ARGV[2]: the followed-celebrities key template (`%s`: the follower, from
-- GraphKeys). Returns the number of followers.
local function flag_celebrity(keys, args)
  redis.call('SADD', keys[1], args[1])
  local followers = redis.call('ZRANGE', keys[2], 0, -1)
  for _, follower in ipairs(followers) do
    redis.call('SADD', string.format(args[2], follower), args[1])
  end
  return #followers
end

redis.register_function{function_name = 'sync_celebrities_followed',
                        callback = sync_celebrities_followed}
-- no-cluster: each follower's set is named at run time, from the followers it reads
redis.register_function{function_name = 'flag_celebrity', callback = flag_celebrity,
                        flags = {'no-cluster'}}
