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

-- Follow requests of private accounts: the Lua twin of projections/graph/requests.py (read its
-- docstring first; tests/integration/test_follow_requests_lua.py holds the two equal). Registers:
-- per (owner, requester) the newest request ("seq|ms|edge seq|edge present|edge ms": the edge as
-- it stood, '' parts when there was none) and the owner's answers ("seq|1 seq|0 ...", oldest
-- first); per owner the privacy switches (lex zset "seq|1/0"); the follow edge itself (followers/
-- following zsets and their seq hashes, as set_members_if_newer keeps them). Shown: the pending
-- zset and the user's `private` field. Seqs are zero-padded, compared as strings.
local REQ = {}

function REQ.key(t, name, id) return string.format(t[name], id) end

-- The edge requester -> owner: {seq, present, ms} or nil.
function REQ.edge(t, owner, requester)
  local seq = redis.call('HGET', REQ.key(t, 'followers_v', owner), requester)
  if not seq then return nil end
  local score = redis.call('ZSCORE', REQ.key(t, 'followers', owner), requester)
  if score then return {seq = seq, present = true, ms = score} end
  return {seq = seq, present = false, ms = '0'}
end

-- Write the edge on both sides exactly (nil: no edge at all), with the requester's
-- followed-celebrities set (as sync_celebrities_followed keeps it).
function REQ.write_edge(t, owner, requester, edge)
  local fv, f = REQ.key(t, 'followers_v', owner), REQ.key(t, 'followers', owner)
  local gv, g = REQ.key(t, 'following_v', requester), REQ.key(t, 'following', requester)
  if edge == nil then
    redis.call('HDEL', fv, requester)
    redis.call('HDEL', gv, owner)
  else
    redis.call('HSET', fv, requester, edge.seq)
    redis.call('HSET', gv, owner, edge.seq)
  end
  local celebs = REQ.key(t, 'celebs', requester)
  if edge ~= nil and edge.present then
    redis.call('ZADD', f, edge.ms, requester)
    redis.call('ZADD', g, edge.ms, owner)
    if redis.call('SISMEMBER', t.celebrities, owner) == 1 then
      redis.call('SADD', celebs, owner)
    end
  else
    redis.call('ZREM', f, requester)
    redis.call('ZREM', g, owner)
    redis.call('SREM', celebs, owner)
  end
end

function REQ.parse(raw)
  local seq, ms, eseq, epresent, ems = string.match(raw, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  local before = nil
  if eseq ~= '' then before = {seq = eseq, present = epresent == '1', ms = ems} end
  return {seq = seq, ms = ms, before = before}
end

function REQ.unparse(seq, ms, before)
  if before == nil then return seq .. '|' .. ms .. '|||' end
  return seq .. '|' .. ms .. '|' .. before.seq .. '|' .. (before.present and '1' or '0') .. '|' ..
         before.ms
end

function REQ.answers(t, owner, requester)  -- {{seq, approved}, ...} oldest first
  local out = {}
  local raw = redis.call('HGET', REQ.key(t, 'answers', owner), requester)
  for seq, flag in string.gmatch(raw or '', '(%d+)|([01])') do
    out[#out + 1] = {seq = seq, approved = flag == '1'}
  end
  return out
end

function REQ.write_answers(t, owner, requester, answers)
  local key = REQ.key(t, 'answers', owner)
  if #answers == 0 then
    redis.call('HDEL', key, requester)
    return
  end
  local parts = {}
  for i, a in ipairs(answers) do parts[i] = a.seq .. '|' .. (a.approved and '1' or '0') end
  redis.call('HSET', key, requester, table.concat(parts, ' '))
end

-- requests.py `decision`: true, false, or nil (pending).
function REQ.decision(t, owner, request, answers)
  local first_seq, first = nil, nil
  for _, a in ipairs(answers) do
    if a.seq > request.seq then
      first_seq, first = a.seq, a.approved
      break  -- oldest first
    end
  end
  local later = redis.call('ZRANGE', REQ.key(t, 'privacy', owner), '(' .. request.seq .. '|~',
                           '+', 'BYLEX')
  for _, switch in ipairs(later) do
    local seq, private = string.match(switch, '^([^|]*)|(.*)$')
    if private == '0' then
      if first_seq == nil or seq < first_seq then first_seq, first = seq, true end
      break
    end
  end
  return first
end

-- requests.py `settle`, written back: the record, the answers kept, the pending zset, the edge,
-- and the requester's index of owners holding something of theirs.
function REQ.settle(t, owner, requester)
  local records, pending = REQ.key(t, 'records', owner), REQ.key(t, 'requests', owner)
  local raw = redis.call('HGET', records, requester)
  local request = raw and REQ.parse(raw)
  local edge = REQ.edge(t, owner, requester)
  if request and edge and edge.seq > request.seq then  -- closed by the requester's own step
    redis.call('HDEL', records, requester)
    request = nil
  end
  local floor = (request and request.seq) or (edge and edge.seq) or ''
  local answers, kept = REQ.answers(t, owner, requester), {}
  for _, a in ipairs(answers) do
    if a.seq >= floor then kept[#kept + 1] = a end
  end
  if #kept ~= #answers then REQ.write_answers(t, owner, requester, kept) end
  if not request then
    redis.call('ZREM', pending, requester)
    if #kept == 0 then redis.call('SREM', REQ.key(t, 'requested', requester), owner) end
    return
  end
  local approved = REQ.decision(t, owner, request, kept)
  if approved then
    redis.call('ZREM', pending, requester)
    if not edge or edge.seq < request.seq then
      REQ.write_edge(t, owner, requester, {seq = request.seq, present = true, ms = request.ms})
    end
    return
  end
  if edge and edge.seq == request.seq then  -- an approval since overturned
    REQ.write_edge(t, owner, requester, request.before)
  end
  if approved == nil then
    redis.call('ZADD', pending, request.ms, requester)
  else
    redis.call('ZREM', pending, requester)
  end
end

-- requests.py `record`: the newest request wins and supersedes the older one's approval.
function REQ.record(t, owner, requester, seq, ms)
  local records = REQ.key(t, 'records', owner)
  local raw = redis.call('HGET', records, requester)
  local current = raw and REQ.parse(raw)
  if current and current.seq >= seq then return end
  local edge = REQ.edge(t, owner, requester)
  if current and edge and edge.seq == current.seq then
    edge = current.before
    REQ.write_edge(t, owner, requester, edge)
  end
  redis.call('HSET', records, requester, REQ.unparse(seq, ms, edge))
  redis.call('SADD', REQ.key(t, 'requested', requester), owner)
end

-- requests.py `seen_late`: an edge write older than the pair's request, applied after it (a
-- block's unfollow, from the owner's partition), becomes the request's `before` if it is the
-- newest such. `ms`: the edge's score, '0' when absent.
function REQ.edge_seen(t, owner, requester, seq, ms)
  local records = REQ.key(t, 'records', owner)
  local raw = redis.call('HGET', records, requester)
  if not raw then return end
  local request = REQ.parse(raw)
  if seq < request.seq and (request.before == nil or request.before.seq < seq) then
    local edge = {seq = seq, present = ms ~= '0', ms = ms}
    redis.call('HSET', records, requester, REQ.unparse(request.seq, request.ms, edge))
  end
end

function REQ.answer(t, owner, requester, seq, approved)
  local answers, known = REQ.answers(t, owner, requester), false
  for _, a in ipairs(answers) do known = known or a.seq == seq end
  if known then return end
  answers[#answers + 1] = {seq = seq, approved = approved}
  table.sort(answers, function(a, b) return a.seq < b.seq end)
  REQ.write_answers(t, owner, requester, answers)
  redis.call('SADD', REQ.key(t, 'requested', requester), owner)
end

function REQ.switch(t, owner, seq, private)
  local history = REQ.key(t, 'privacy', owner)
  redis.call('ZADD', history, 0, seq .. '|' .. private)
  local newest = redis.call('ZRANGE', history, -1, -1)[1]
  if string.sub(newest, -1) == '1' then
    redis.call('HSET', REQ.key(t, 'user', owner), 'private', '1')
  else
    redis.call('HDEL', REQ.key(t, 'user', owner), 'private')
  end
  if private == '0' then  -- going public may approve what was pending then
    for _, requester in ipairs(redis.call('HKEYS', REQ.key(t, 'records', owner))) do
      REQ.settle(t, owner, requester)
    end
  end
end

-- The steps of a batch, in order. ARGV: the key templates (user, followers, followers_v,
-- following, following_v, requests, records, answers, requested, privacy, celebs: `%s` the
-- id), the celebrity set's key, then 5 per step: kind ('request' | 'approve' | 'reject' |
-- 'edge' | 'privacy'), owner, requester (privacy: '1' private / '0' public), seq, ms. An
-- 'edge' step comes after set_members_if_newer wrote the edge. Returns the number of steps.
local function follow_requests(keys, args)
  local names = {'user', 'followers', 'followers_v', 'following', 'following_v', 'requests',
                 'records', 'answers', 'requested', 'privacy', 'celebs'}
  local t = {}
  for i, name in ipairs(names) do t[name] = args[i] end
  t.celebrities = args[#names + 1]
  local steps = 0
  for a = #names + 2, #args, 5 do
    local kind, owner, other, seq, ms = args[a], args[a + 1], args[a + 2], args[a + 3],
                                        args[a + 4]
    if kind == 'privacy' then
      REQ.switch(t, owner, seq, other)
    else
      if kind == 'request' then
        REQ.record(t, owner, other, seq, ms)
      elseif kind == 'approve' or kind == 'reject' then
        REQ.answer(t, owner, other, seq, kind == 'approve')
      elseif kind == 'edge' then
        REQ.edge_seen(t, owner, other, seq, ms)
      end
      REQ.settle(t, owner, other)
    end
    steps = steps + 1
  end
  return steps
end

redis.register_function{function_name = 'sync_celebrities_followed',
                        callback = sync_celebrities_followed}
-- no-cluster: each follower's set is named at run time, from the followers it reads
redis.register_function{function_name = 'flag_celebrity', callback = flag_celebrity,
                        flags = {'no-cluster'}}
-- no-cluster: both ends of an edge, and every request of an owner going public, are named at run
-- time (an owner's and a requester's keys live in two slots)
redis.register_function{function_name = 'follow_requests', callback = follow_requests,
                        flags = {'no-cluster'}}
