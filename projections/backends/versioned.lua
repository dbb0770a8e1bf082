#!lua name=photofeed_versioned
-- Writes guarded by the event id that caused them (`seq`, projections/writes.py), shared by the
-- graph, photos and feeds groups, and the applied offsets of read-your-writes
-- (projections/backends/positions.py). Loaded when the stack starts and checked at start-up
-- (projections/backends/functions.py); called by name (FCALL), pipelined a batch at a time
-- (projections/backends/redis_batch.py).
--
-- Every key is passed in KEYS: on a cluster an adapter told it runs on one splits a batch by hash
-- slot. Seqs are zero-padded strings compared as strings: a Lua number cannot hold a Snowflake id
-- exactly.

-- A batch of hash updates. KEYS: one hash per entry. ARGV per entry: the seq field, the seq, n,
-- then n field/value pairs ('' deletes the field). Returns how many entries were newer.
local function set_fields_if_newer(keys, args)
  local applied, a = 0, 1
  for k = 1, #keys do
    local sfield, seq, n = args[a], args[a + 1], tonumber(args[a + 2])
    local current = redis.call('HGET', keys[k], sfield)
    if not current or current < seq then
      redis.call('HSET', keys[k], sfield, seq)
      for i = a + 3, a + 2 + 2 * n, 2 do
        if args[i + 1] == '' then
          redis.call('HDEL', keys[k], args[i])
        else
          redis.call('HSET', keys[k], args[i], args[i + 1])
        end
      end
      applied = applied + 1
    end
    a = a + 3 + 2 * n
  end
  return applied
end

-- A batch of set-membership updates. KEYS per entry: the zset and its seq hash (member -> last
-- seq, tombstones included). ARGV per entry: member, score, seq, '1' present or '0' absent.
-- Returns how many entries were newer.
local function set_members_if_newer(keys, args)
  local applied = 0
  for k = 1, #keys, 2 do
    local a = 2 * k - 1
    local member, score, seq = args[a], args[a + 1], args[a + 2]
    local current = redis.call('HGET', keys[k + 1], member)
    if not current or current < seq then
      redis.call('HSET', keys[k + 1], member, seq)
      if args[a + 3] == '1' then
        redis.call('ZADD', keys[k], score, member)
      else
        redis.call('ZREM', keys[k], member)
      end
      applied = applied + 1
    end
  end
  return applied
end

-- What a projection group has applied. KEYS[1]: the group's applied hash. ARGV: field, offset,
-- field, offset... Raises each field to at least its offset, never lowers one (Lua numbers are
-- doubles: exact below 2^53, which infra/positions.py caps).
local function raise_offsets(keys, args)
  for i = 1, #args, 2 do
    local now = tonumber(redis.call('HGET', keys[1], args[i]) or '-1')
    if tonumber(args[i + 1]) > now then redis.call('HSET', keys[1], args[i], args[i + 1]) end
  end
  return 0
end

redis.register_function{function_name = 'set_fields_if_newer', callback = set_fields_if_newer}
redis.register_function{function_name = 'set_members_if_newer', callback = set_members_if_newer}
redis.register_function{function_name = 'raise_offsets', callback = raise_offsets}
