#!lua name=photofeed_pages
-- The read side of photofeed as one Valkey Functions library: every page the gateway serves most
-- (home feed, profile grid, one post) is ONE server-side call that returns the page's JSON.
--
-- Loaded once (FUNCTION LOAD REPLACE) when the stack starts (infra/stack.py); each process checks
-- at start-up that Valkey holds this very code (projections/backends/functions.py), then calls the
-- functions by name. Key names are never spelled here: the caller passes each key it names as KEYS
-- and, for keys derived from the ids a page finds (a post, an author, a timeline), a
-- `string.format` template built by projections/<group>/keys.py. The page functions read keys
-- derived from rows, so they are flagged to run on one shard (`allow-cross-slot-keys`): a cluster
-- deployment keeps the read groups together. The per-group readers' one-zset pages (page_before,
-- page_after) are here too, the same helpers the pages use.
--
-- Post cards: the feeds projection keeps each post's viewer-independent JSON ready (`card`, a
-- JSON object body without braces in which the public URL base is the byte \1, which JSON never
-- contains); a page adds the author, the counts and the viewer's like, and the caller swaps \1
-- for the base.


-- A newest-first page of a zset strictly after the position (max, after): rows scored below max,
-- or at max with a member below `after` (Redis orders equal scores by member bytes), and not
-- below `min` (default: all). Flat list {member, score, member, score, ...} of <= `limit` rows.
local function page_before(key, max, after, limit, min)
  local out, offset, batch = {}, 0, (after == '') and limit or (limit + 2)
  while #out < 2 * limit do
    local rows = redis.call('ZRANGE', key, max, min or '-inf', 'BYSCORE', 'REV', 'LIMIT', offset,
                            batch, 'WITHSCORES')
    if #rows == 0 then break end
    for i = 1, #rows, 2 do
      local skip = after ~= '' and rows[i + 1] == max and rows[i] >= after
      if not skip and #out < 2 * limit then
        out[#out + 1] = rows[i]
        out[#out + 1] = rows[i + 1]
      end
    end
    if #rows < 2 * batch then break end
    offset = offset + batch
  end
  return out
end

-- An oldest-first page of a zset strictly after (min, after): the mirror of page_before.
local function page_after(key, min, after, limit)
  local out, offset, batch = {}, 0, (after == '') and limit or (limit + 2)
  while #out < 2 * limit do
    local rows = redis.call('ZRANGE', key, min, '+inf', 'BYSCORE', 'LIMIT', offset, batch,
                            'WITHSCORES')
    if #rows == 0 then break end
    for i = 1, #rows, 2 do
      local skip = after ~= '' and rows[i + 1] == min and rows[i] <= after
      if not skip and #out < 2 * limit then
        out[#out + 1] = rows[i]
        out[#out + 1] = rows[i + 1]
      end
    end
    if #rows < 2 * batch then break end
    offset = offset + batch
  end
  return out
end

-- Unix milliseconds as the API's RFC 3339 UTC time, exactly as projections/feeds/cards.py's rfc3339
-- writes it (milliseconds as six digits when there are any). Civil date from days: H. Hinnant.
local function rfc3339(ms)
  ms = tonumber(ms)
  local secs = math.floor(ms / 1000)
  local frac = ms - secs * 1000
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) -
                          math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = (mp < 10) and (mp + 3) or (mp - 9)
  local y = yoe + era * 400 + ((m <= 2) and 1 or 0)
  local out = string.format('%04d-%02d-%02dT%02d:%02d:%02d', y, m, d, math.floor(rem / 3600),
                            math.floor((rem % 3600) / 60), rem % 60)
  if frac ~= 0 then out = out .. string.format('.%03d000', frac) end
  return out .. 'Z'
end

-- A decimal id without the zero padding of a version key (projections/writes.py version_key).
local function unpadded(id)
  local stripped = string.gsub(id, '^0+', '')
  if stripped == '' then return '0' end
  return stripped
end

-- a <= b for decimal ids of any length (Snowflakes exceed a Lua number's exact range)
local function id_le(a, b)
  if #a ~= #b then return #a < #b end
  return a <= b
end

-- Up to `limit` distinct rows of several flat pages, each newest first, merged newest first
-- (score, then member bytes) as {member, score, score as Redis wrote it} (the text is what a
-- position compares with). A k-way merge of sorted pages that stops at `limit`: no sort.
local function merge_newest(flats, limit)
  local heads, rows, seen = {}, {}, {}
  for i = 1, #flats do heads[i] = 1 end
  while #rows < limit do
    local best, best_score, best_member = nil, nil, nil
    for i, flat in ipairs(flats) do
      local h = heads[i]
      if h < #flat then
        local member, score = flat[h], tonumber(flat[h + 1])
        if best == nil or score > best_score or (score == best_score and member > best_member) then
          best, best_score, best_member = i, score, member
        end
      end
    end
    if best == nil then break end
    local h = heads[best]
    heads[best] = h + 2
    if not seen[best_member] then
      seen[best_member] = true
      rows[#rows + 1] = {best_member, best_score, flats[best][h + 1]}
    end
  end
  return rows
end

-- 'ok', 'revoked' or 'gone' for a bearer token's session (the same rules as
-- gateway/sessions.py): KEYS account hash, revocation key; the token's epoch.
local function session(account, revoked, epoch)
  local f = redis.call('HMGET', account, 'username', 'erasing', 'changed_at')
  if not f[1] or f[2] then return 'gone' end
  if (f[3] or '0') ~= epoch then return 'revoked' end
  if redis.call('EXISTS', revoked) == 1 then return 'revoked' end
  return 'ok'
end

-- The session of a page that may be anonymous (epoch ''): nil when it stands or there is none,
-- else the reply that refuses it.
local function checked(keys, epoch)  -- nil when the session stands or there is none
  if epoch == '' then return nil end
  local verdict = session(keys[1], keys[2], epoch)
  if verdict ~= 'ok' then return {verdict} end
  return nil
end

-- `command` with the values of `list` after `key` (nil: none), in slices of SLICE values, since
-- unpack's stack is bounded; the slices' array replies joined in order (HMGET, MGET). SLICE is
-- even, so field-value and score-member pairs stay whole (HSET, ZADD).
local SLICE = 1000

local function sliced(command, key, list)
  local out = {}
  for from = 1, #list, SLICE do
    local last = math.min(#list, from + SLICE - 1)
    local got
    if key then
      got = redis.call(command, key, unpack(list, from, last))
    else
      got = redis.call(command, unpack(list, from, last))
    end
    if type(got) == 'table' then
      for i = 1, #got do out[#out + 1] = got[i] end
    end
  end
  return out
end

-- A key template (`%s` where the id goes, projections/backends/keys.py) as its two sides, so
-- a key is one concatenation (string.format costs several times as much, per key, per row).
-- Kept per template for the library's life (a page names the same six templates every call:
-- splitting them anew was ~9 us of a single post's ~50); a handful of templates per version.
local SIDES = {}

local function sides(template)
  local found = SIDES[template]
  if found then return found end
  local at = string.find(template, '%s', 1, true)
  found = {string.sub(template, 1, at - 1), string.sub(template, at + 2)}
  SIDES[template] = found
  return found
end

local function key(sides_of, id)
  return sides_of[1] .. id .. sides_of[2]
end

-- The templates (timeline, post, user, counts, comments, comment) as `sides`, then the viewer
-- ('' when anonymous) and the viewer's blocks, blocked_by, mutes and following zsets ('' when
-- anonymous); `rest` is the index of the first ARGV after them.
local function templates(args, from)
  return {timeline = sides(args[from]), post = sides(args[from + 1]),
          user = sides(args[from + 2]), counts = sides(args[from + 3]),
          comments = sides(args[from + 4]), comment = sides(args[from + 5]),
          viewer = args[from + 6], blocks = args[from + 7], blocked_by = args[from + 8],
          mutes = args[from + 9], following = args[from + 10], rest = from + 11}
end

-- The viewer's blocks (either way) and mutes: the Lua twin of projections/graph/relations.py
-- (`blocked`, `hides_activity`). The viewer's three zsets (blocks, blocked_by, mutes; '' when
-- anonymous) come in the templates' tail. Most viewers have none, which one EXISTS tells; a
-- set of up to RELATIONS_READ_WHOLE members is read whole once per call, a larger one asked
-- once per author the page meets (ZSCORE).
local RELATIONS_READ_WHOLE = 64

local function relations(t)
  local self, sets, cache = {}, nil, {}

  local function load()  -- name -> members (a table) or the zset's key, for those not empty
    if sets ~= nil then return end
    sets = {}
    if t.blocks == '' or redis.call('EXISTS', t.blocks, t.blocked_by, t.mutes) == 0 then return end
    for _, name in ipairs({'blocks', 'blocked_by', 'mutes'}) do
      local n = redis.call('ZCARD', t[name])
      if n > RELATIONS_READ_WHOLE then
        sets[name] = t[name]
      elseif n > 0 then
        local members = {}
        for _, m in ipairs(redis.call('ZRANGE', t[name], 0, -1)) do members[m] = true end
        sets[name] = members
      end
    end
  end

  local function of(id)  -- {blocks, blocked_by, mutes} of the viewer towards `id`
    load()
    local r = cache[id]
    if r == nil then
      r = {}
      for name, set in pairs(sets) do
        if type(set) == 'table' then
          r[name] = set[id] == true
        else
          r[name] = redis.call('ZSCORE', set, id) ~= false
        end
      end
      cache[id] = r
    end
    return r
  end

  function self.any()  -- whether the viewer blocked, was blocked by or muted anyone
    load()
    return next(sets) ~= nil
  end

  function self.blocked(id)  -- a block either way: each is hidden from the other
    local r = of(id)
    return r.blocks or r.blocked_by or false
  end

  function self.hides_activity(id)  -- not in the viewer's feed nor notifications
    return self.blocked(id) or of(id).mutes or false
  end

  return self
end

-- Everything a page needs to turn post ids into cards, with per-call caches.
local function reader(t, viewer_liked)
  local self = {authors = {}, follows = {}, private = {}, relations = relations(t)}

  function self.user(id)  -- the user's JSON, or nil for an unknown (erased) user
    local json = self.authors[id]
    if json ~= nil then return json or nil end
    local u = redis.call('HMGET', key(t.user, id), 'username', 'avatar_url',
                         'avatar_150', 'display_name', 'private')
    self.private[id] = u[5] == '1'
    if not u[1] then
      self.authors[id] = false
      return nil
    end
    -- the avatar's 150 px square under the public URL base (\1, as in cards), else a v1 URL
    -- (gateway/route_kit.py user_json writes the same object)
    local avatar = 'null'
    if u[3] and u[3] ~= '' then
      avatar = '"\1' .. string.sub(cjson.encode(u[3]), 2)
    elseif u[2] and u[2] ~= '' then
      avatar = cjson.encode(u[2])
    end
    local name = (u[4] and u[4] ~= '') and cjson.encode(u[4]) or 'null'
    json = '{"user_id":"' .. id .. '","username":' .. cjson.encode(u[1]) ..
           ',"display_name":' .. name .. ',"avatar_url":' .. avatar .. ',"private":' ..
           tostring(self.private[id]) .. '}'
    self.authors[id] = json
    return json
  end

  function self.author(id)  -- as user(), with an unknown author shown by id only
    return self.user(id) or ('{"user_id":"' .. id .. '"}')
  end

  -- Whether the viewer may see the owner's content: projections/graph/visibility.py `may_see`
  -- (a private account's posts and lists are the owner's and its approved followers' only). The
  -- private flag comes with the owner's JSON (one read, cached); a follow is read only for a
  -- private owner (cached, shared with the feed's follow check).
  function self.visible(owner)
    if owner == t.viewer then return true end
    self.user(owner)
    if not self.private[owner] then return true end
    if not t.following or t.following == '' then return false end
    local follows = self.follows[owner]
    if follows == nil then
      follows = redis.call('ZSCORE', t.following, owner) ~= false
      self.follows[owner] = follows
    end
    return follows
  end

  -- The post's card fields: nil for a deleted or unknown post, false for a post projected
  -- before cards existed (the caller serves that page the old way until a replay).
  function self.post(id)
    local p = redis.call('HMGET', key(t.post, id), 'card', 'author_id', 'deleted',
                         'mentions')
    if not p[2] or p[3] == '1' then return nil end
    if not p[1] then return false end
    return p
  end

  -- A text's mentions as a JSON array: the stored lines `<user id> <mention object>`
  -- (projections/text.py mention_entries) of the users who still exist (an erased one's is left
  -- out; the text keeps the name).
  function self.mentions(stored)
    if not stored or stored == '' then return '[]' end
    local out = {}
    for id, mention in string.gmatch(stored, '(%d+) ([^\n]+)') do
      if self.user(id) and not self.relations.blocked(id) then out[#out + 1] = mention end
    end
    return '[' .. table.concat(out, ',') .. ']'
  end

  -- A card as parts (see `reply`): the stored card goes out as read, and the viewer's like is
  -- filled in by `settle`, one HMGET for the whole page.
  local unsettled = {}
  function self.card(id, p)
    local likes = redis.call('HGET', key(t.counts, id), 'likes') or '0'
    local comments = redis.call('ZCARD', key(t.comments, id))
    local card = {'{"user":' .. self.author(p[2]) .. ',', p[1], ',"like_count":' ..
                  tonumber(likes) .. ',"comment_count":' .. comments,
                  ',"liked_by_viewer":false', ',"mentions":' .. self.mentions(p[4]) .. '}'}
    if viewer_liked then unsettled[#unsettled + 1] = {card, id} end
    return card
  end

  function self.settle()  -- the viewer's likes of the cards made so far
    if #unsettled == 0 then return end
    local ids = {}
    for i, pending in ipairs(unsettled) do ids[i] = pending[2] end
    local flags = sliced('HMGET', viewer_liked, ids)
    for i, pending in ipairs(unsettled) do
      local flag = flags[i]
      if flag and string.sub(flag, 1, 1) == '1' then pending[1][4] = ',"liked_by_viewer":true' end
    end
    unsettled = {}
  end

  return self
end

-- A page's JSON, joined here by one table.concat: one bulk reply is cheaper for Valkey to send
-- and for the gateway to read than a part per field (measured: ~5% of a feed page's server time
-- and ~20 us of the gateway's per page). Interning the joined string hashes a sample of its bytes
-- (Lua 5.1 steps through long strings), not all of them. A card is a string or a list of parts.
local function reply(cards, last)
  local parts = {'['}
  for i, card in ipairs(cards) do
    if i > 1 then parts[#parts + 1] = ',' end
    if type(card) == 'table' then
      for _, part in ipairs(card) do parts[#parts + 1] = part end
    else
      parts[#parts + 1] = card
    end
  end
  parts[#parts + 1] = ']'
  local json = table.concat(parts)
  if last then return {'ok', json, last[1], last[2]} end  -- next score, next member
  return {'ok', json}
end

-- Deep scroll: when the pushed feed is missing, or trimmed and scrolled past its end, older
-- history is the merge of every followed author's timeline. Reading every timeline on every
-- page would cost (follows x page) reads; instead the merge is materialized as the viewer
-- scrolls: a `deep` zset holds every merged row from where deep scrolling started (`start` in
-- the meta hash) down to where the `frontier` continues (`end`). The frontier is a zset of each
-- author's next post (member: post id, NUL, author id, so equal scores order as post ids do):
-- built once (one short read per followed author), then each merged row costs a pop and one
-- read of that author's next post. A page whose position lies inside `deep` (it starts there,
-- or its last row is one of deep's rows) reads `deep` like a pushed feed: bounded work per
-- page. All three keys are a cache with a TTL.
local DEEP_TTL_S = 300

local function frontier_build(keys, t, max, after)
  local zset = keys[8]
  redis.call('DEL', zset)
  for _, author in ipairs(redis.call('ZRANGE', keys[5], 0, -1)) do
    local row = page_before(key(t.timeline, author), max, after, 1)
    if #row > 0 then redis.call('ZADD', zset, row[2], row[1] .. '\0' .. author) end
  end
end

local function frontier_pop(keys, t)  -- {post, score text} of the newest remaining row
  local zset = keys[8]
  local top = redis.call('ZRANGE', zset, '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1,
                         'WITHSCORES')
  if #top == 0 then return nil end
  redis.call('ZREM', zset, top[1])
  local post, author = string.match(top[1], '^([^%z]+)%z(.+)$')
  local nxt = page_before(key(t.timeline, author), top[2], post, 1)
  if #nxt > 0 then redis.call('ZADD', zset, nxt[2], nxt[1] .. '\0' .. author) end
  return {post, top[2]}
end

-- A score as Redis writes it ('+inf', '-inf' or a number) as a number.
local function score_num(s)
  if s == '+inf' then return math.huge end
  if s == '-inf' then return -math.huge end
  return tonumber(s)
end

-- Whether position (ps, pm) is at or below (ss, sm) in row order (score, then member bytes; an
-- empty member stands above every member of its score).
local function at_or_below(ps, pm, ss, sm)
  local a, b = score_num(ps), score_num(ss)
  if a ~= b then return a < b end
  if sm == '' then return true end
  if pm == '' then return false end
  return pm <= sm
end

-- Up to `need` merged rows strictly after (max, after), flat as page_before returns them. Any
-- position at or below deep's start is served from `deep` (extended as far as needed): random
-- access to deep pages reuses one materialization. A first page ('+inf') is merged afresh, so
-- posts newer than a cached start always show, and so is any page after the viewer followed
-- or unfollowed someone (the count of follows changed).
local function deep_rows(keys, t, max, after, need, step)
  local meta, deep = keys[9], keys[10]
  local m = redis.call('HMGET', meta, 'start', 'follows')
  local follows = tostring(redis.call('ZCARD', keys[5]))  -- a follow or unfollow: merge again
  local inside = false
  if m[1] and m[2] == follows and max ~= '+inf' then
    local ss, sm = string.match(m[1], '^([^|]*)|(.*)$')
    inside = at_or_below(max, after, ss, sm)
  end
  if not inside then
    redis.call('DEL', deep, meta)
    frontier_build(keys, t, max, after)
    local at = max .. '|' .. after
    redis.call('HSET', meta, 'start', at, 'end', at, 'follows', follows)
  end
  local rows = page_before(deep, max, after, need)
  while #rows < 2 * need and redis.call('HGET', meta, 'done') ~= '1' do
    if redis.call('EXISTS', keys[8]) == 0 then  -- expired apart from deep: continue at `end`
      local e = redis.call('HGET', meta, 'end')
      local s, m = string.match(e, '^([^|]*)|(.*)$')
      frontier_build(keys, t, s, m)
    end
    local last = nil
    for _ = 1, step do
      local row = frontier_pop(keys, t)
      if not row then
        redis.call('HSET', meta, 'done', '1')
        break
      end
      redis.call('ZADD', deep, row[2], row[1])
      last = row
    end
    if last then redis.call('HSET', meta, 'end', last[2] .. '|' .. last[1]) end
    rows = page_before(deep, max, after, need)
  end
  if redis.call('HGET', meta, 'start') == '+inf|' then
    -- merged from the top: rows published later lie below '+inf' but are not in `deep`, so
    -- `deep` covers only positions at or below its newest row (none when it is empty)
    local top = redis.call('ZRANGE', deep, -1, -1, 'WITHSCORES')
    if #top > 0 then
      redis.call('HSET', meta, 'start', top[2] .. '|' .. top[1])
    else
      redis.call('HDEL', meta, 'start')
    end
  end
  for i = 8, 10 do redis.call('EXPIRE', keys[i], DEEP_TTL_S) end
  return rows
end

-- Followed celebrities' posts are pulled, not pushed. Merging every followed celebrity's timeline
-- on every page would cost a read per celebrity per page; instead each viewer's merge is kept
-- (`pull` zset, `pull_meta` hash: a cache with a TTL) and brought up to date at the start of a
-- page: one MGET of the celebrities' timeline stamps (feeds.lua bump_stamps) against the stamps
-- the cache last merged. A timeline that only grew at its head is read from the newest row the
-- cache has of it; one written below that (a backdated row), or new to the cache, is read
-- whole. `pull` is exact strictly above its floor (meta field '-floor'; absent: exact
-- throughout); below it the page merges the timelines directly.
local PULL_TTL_S = 600

local function backdated_of(stamp)  -- the backdated count of a stamp "<changes>.<backdated>"
  return string.match(stamp, '%.(%d+)$')
end

-- Bring the viewer's pull cache up to date with `celebrities`; returns its floor ('-inf': exact
-- throughout). A whole read takes the timeline's rows above the floor, at most `whole` (when
-- capped, the floor rises to the last row read); a head read takes the rows from the newest one
-- cached (a head read that fills `window` is done again whole). The cache is trimmed to its
-- newest `window` rows when it holds twice that (the floor rises to the cut). The meta keeps,
-- per celebrity, "<stamp>|<newest score cached>".
-- `whole` is each celebrity's share of those twice `window` rows (at least `min_rows`, at most
-- `window`): reading `window` rows of every celebrity would read 20 x 2,000 rows for a viewer
-- following 20 prolific ones, to keep 2,000 (measured: ~50 ms of Valkey for one cold build, ~11
-- ms with shares). Whatever a share leaves out lies below the floor, read directly.
-- A cold cache (none yet) is built by Valkey itself: each share copied by ZRANGESTORE into a
-- part key beside the cache, then one ZUNIONSTORE of the parts. ZADDing the shares one after
-- the other into a listpack zset scans it for every row (measured: 1,000 rows of 20
-- celebrities, ~8 ms); the union builds it in one pass.
local PARTS_PER_UNION = 500

local function pull_refresh(keys, t, celebrities, window, stamp_sides, min_rows)
  local whole = math.min(window, math.max(min_rows, math.ceil(2 * window / #celebrities)))
  local pull, meta = keys[11], keys[12]
  local cold = redis.call('EXISTS', pull) == 0
  if cold then redis.call('DEL', meta) end
  local stamp_keys = {}
  for i, author in ipairs(celebrities) do stamp_keys[i] = key(stamp_sides, author) end
  local stamps = sliced('MGET', nil, stamp_keys)
  local seen = sliced('HMGET', meta, celebrities)
  local floor = redis.call('HGET', meta, '-floor') or '-inf'
  local changed, raised, parts = {}, false, {}

  -- a capped share or window: the floor rises to its last (lowest) row
  local function capped_at(last)
    if score_num(last) > score_num(floor) then floor, raised = last, true end
  end

  for i, author in ipairs(celebrities) do
    local stamp = stamps[i] or '0.0'
    local was, newest = nil, '-inf'
    if seen[i] then was, newest = string.match(seen[i], '^([^|]*)|(.*)$') end
    if was ~= stamp then
      local timeline, rows = key(t.timeline, author), nil
      local low = (floor == '-inf') and '-inf' or ('(' .. floor)
      if was and backdated_of(was) == backdated_of(stamp) then  -- grew at its head only
        rows = redis.call('ZRANGE', timeline, '+inf', newest, 'BYSCORE', 'REV', 'LIMIT', 0,
                          window, 'WITHSCORES')
        if #rows == 2 * window then rows = nil end  -- more new rows than a cache keeps
      end
      if rows == nil and cold then
        local part = pull .. ':part:' .. i
        local n = redis.call('ZRANGESTORE', part, timeline, '+inf', low, 'BYSCORE', 'REV',
                             'LIMIT', 0, whole)
        if n > 0 then
          parts[#parts + 1] = part
          redis.call('EXPIRE', part, PULL_TTL_S)  -- gone even if this call fails before the DEL
          local top = redis.call('ZRANGE', part, -1, -1, 'WITHSCORES')[2]
          if score_num(top) > score_num(newest) then newest = top end
          if n == whole then capped_at(redis.call('ZRANGE', part, 0, 0, 'WITHSCORES')[2]) end
        end
      else
        if rows == nil then
          rows = redis.call('ZRANGE', timeline, '+inf', low, 'BYSCORE', 'REV', 'LIMIT', 0,
                            whole, 'WITHSCORES')
          if #rows == 2 * whole then capped_at(rows[#rows]) end
        end
        if #rows > 0 then
          local args = {}
          for j = 1, #rows, 2 do
            args[j], args[j + 1] = rows[j + 1], rows[j]
          end
          sliced('ZADD', pull, args)
          if score_num(rows[2]) > score_num(newest) then newest = rows[2] end
        end
      end
      changed[#changed + 1] = author
      changed[#changed + 1] = stamp .. '|' .. newest
    end
  end
  for from = 1, #parts, PARTS_PER_UNION do
    local group = {unpack(parts, from, math.min(#parts, from + PARTS_PER_UNION - 1))}
    if from == 1 then
      redis.call('ZUNIONSTORE', pull, #group, unpack(group))
    else
      redis.call('ZUNIONSTORE', pull, #group + 1, pull, unpack(group))
    end
    redis.call('DEL', unpack(group))
  end
  if #changed == 0 then return floor end
  if redis.call('ZCARD', pull) > 2 * window then
    local cut = redis.call('ZRANGE', pull, window, window, 'REV', 'WITHSCORES')
    redis.call('ZREMRANGEBYRANK', pull, 0, -(window + 1))
    redis.call('ZUNIONSTORE', pull, 1, pull)  -- a listpack again if it grew past one (a copy)
    capped_at(cut[2])
  end
  if raised then
    changed[#changed + 1] = '-floor'
    changed[#changed + 1] = floor
  end
  sliced('HSET', meta, changed)
  redis.call('EXPIRE', pull, PULL_TTL_S)
  redis.call('EXPIRE', meta, PULL_TTL_S)
  return floor
end

-- The home feed (see projections/feeds/query.py, the same rows in Python for other stores): the
-- pushed feed merged with the timelines of the celebrities the viewer follows (through the pull
-- cache above its floor, directly below it); deleted posts and authors no longer followed, blocked
-- either way or muted are dropped; a missing feed, or a trimmed one scrolled past its end,
-- continues from the frontier of every followed author's timeline.
-- KEYS: account, revocation key, feed, feed-trimmed marker, following zset, followed-celebrities
-- set, the viewer's likes, then deep scroll's frontier zset, meta hash and deep zset, then the
-- pull cache's zset and meta hash. ARGV: epoch, limit, max score ('+inf'), last member (''),
-- rows merged into `deep` at a time, then the templates and the viewer's tail (`templates`),
-- then the pull cache's window, the template of a timeline's stamp key and the fewest rows a
-- whole read takes of one celebrity (`pull_refresh`).
-- Reply: {'ok', posts JSON, next score, next member} (no next when the feed ends), {'legacy'},
-- or {verdict} when the session does not stand; a 5th element 'missing' asks for a rebuild.
local function feed_page(keys, args)
  local verdict = session(keys[1], keys[2], args[1])
  if verdict ~= 'ok' then return {verdict} end
  local limit, max, after, deep_step = tonumber(args[2]), args[3], args[4], tonumber(args[5])
  local t = templates(args, 6)
  local window = tonumber(args[t.rest])
  local r = reader(t, keys[7])
  local exists = redis.call('EXISTS', keys[3]) == 1
  local kept, cards = {}, {}

  -- A round's posts read ahead, then whether the viewer follows each new author among them: one
  -- ZMSCORE for the round instead of a ZSCORE per author.
  local fetched = {}  -- post id -> {its fields, or nil / false as reader.post answers}
  local function ahead(ids)
    local authors, asked = {}, {}
    for _, id in ipairs(ids) do
      local p = r.post(id)
      fetched[id] = {p}
      if p and r.follows[p[2]] == nil and not asked[p[2]] then
        asked[p[2]] = true
        authors[#authors + 1] = p[2]
      end
    end
    if #authors > 0 then
      local scores = redis.call('ZMSCORE', keys[5], unpack(authors))
      for i, author in ipairs(authors) do r.follows[author] = scores[i] ~= false end
    end
  end

  local function consider(id, score)  -- true when the page is full; `id` was read `ahead`
    local p = fetched[id][1]
    if p == false then error('legacy') end
    if not p then return false end
    local author = p[2]
    if not r.follows[author] or r.relations.hides_activity(author) or not r.visible(author) then
      return false
    end
    kept[#kept + 1] = {score, id}
    if #kept > limit then return true end
    cards[#cards + 1] = r.card(id, p)
    return false
  end

  local deep = not exists
  if exists then
    local trimmed = redis.call('EXISTS', keys[4]) == 1
    local celebrities = redis.call('SMEMBERS', keys[6])
    local floor = '-inf'
    if #celebrities > 0 then
      floor = pull_refresh(keys, t, celebrities, window, sides(args[t.rest + 1]),
                           tonumber(args[t.rest + 2]))
    end
    while #kept <= limit do
      -- the rows still needed and two spare: a dropped row (deleted, unfollowed) rarely costs
      -- another round, and reading more than a page needs is what a page costs most
      local chunk = limit + 3 - #kept
      local pushed = page_before(keys[3], max, after, chunk)
      if #pushed < 2 * chunk and trimmed then deep = true break end
      local flats, exhausted = {pushed}, #pushed < 2 * chunk
      -- a full pushed chunk bounds the merge: older celebrity rows cannot make its top `chunk`
      local bound = (not exhausted) and pushed[#pushed] or nil
      local cut = nil  -- rows at or below it wait for the next round (the pull cache's floor)
      if #celebrities > 0 and score_num(max) > score_num(floor) then
        local flat = page_before(keys[11], max, after, chunk, bound)
        local kept_rows = {}
        for i = 1, #flat, 2 do
          if score_num(flat[i + 1]) > score_num(floor) then
            kept_rows[#kept_rows + 1] = flat[i]
            kept_rows[#kept_rows + 1] = flat[i + 1]
          end
        end
        if #flat == 2 * chunk then exhausted = false end
        if floor ~= '-inf' and #kept_rows < 2 * chunk then cut, exhausted = floor, false end
        flats[2] = kept_rows
      else
        for _, author in ipairs(celebrities) do
          local flat = page_before(key(t.timeline, author), max, after, chunk, bound)
          flats[#flats + 1] = flat
          if #flat == 2 * chunk then exhausted = false end
        end
      end
      local rows = merge_newest(flats, chunk)
      local ids = {}
      for i, row in ipairs(rows) do ids[i] = row[1] end
      ahead(ids)
      local full, stopped = false, false
      for _, row in ipairs(rows) do
        if cut and row[2] <= score_num(cut) then
          max, after, stopped = cut, '', true  -- the next round merges the timelines directly
          break
        end
        max, after = row[3], row[1]
        full = consider(row[1], row[3])
        if full then break end
      end
      if cut and not stopped and not full then max, after = cut, '' end
      if full or (#rows == 0 and not cut) or (exhausted and #rows < chunk) then break end
    end
  end
  while deep and #kept <= limit do
    local need = limit + 3 - #kept  -- as a round above: what is needed and two spare
    local rows = deep_rows(keys, t, max, after, need, deep_step)
    local ids = {}
    for i = 1, #rows, 2 do ids[#ids + 1] = rows[i] end
    ahead(ids)
    local full = false
    for i = 1, #rows, 2 do
      max, after = rows[i + 1], rows[i]
      full = consider(rows[i], rows[i + 1])
      if full then break end
    end
    if full or #rows < 2 * need then break end
  end
  r.settle()
  local out = reply(cards, (#kept > limit) and kept[limit] or nil)
  if not exists then
    while #out < 4 do out[#out + 1] = '' end
    out[5] = 'missing'
  end
  return out
end

local function feed_page_or_legacy(keys, args)
  local ok, result = pcall(feed_page, keys, args)
  if ok then return result end
  if type(result) == 'string' and string.find(result, 'legacy', 1, true) then
    return {'legacy'}
  end
  error(result)
end

-- A page of cards from a timeline zset (post -> ms) newest first, strictly after (max, after):
-- posts deleted meanwhile, and those of authors blocked either way or private and not `visible`
-- to the viewer, are left out (their row still moves the cursor).
local function timeline_cards(r, key, max, after, limit)
  local rows = page_before(key, max, after, limit + 1)
  local cards, last = {}, nil
  for i = 1, math.min(#rows, 2 * limit), 2 do
    local p = r.post(rows[i])
    if p == false then return {'legacy'} end
    if p and not r.relations.blocked(p[2]) and r.visible(p[2]) then
      cards[#cards + 1] = r.card(rows[i], p)
    end
    last = {rows[i + 1], rows[i]}
  end
  r.settle()
  return reply(cards, (#rows > 2 * limit) and last or nil)
end

-- A user's posts, newest first. KEYS: account, revocation key (both '' when anonymous), the
-- author's timeline, the author's user hash, the viewer's likes (anonymous: absent). ARGV: epoch
-- ('' when anonymous), limit, max score, last member, the templates and the viewer's tail, the
-- author. Reply: {'ok', posts JSON[, next score, next member]}, {'none'} for an unknown author
-- or one blocked either way, {'private'} for a private one the viewer may not see (`visible`),
-- {'legacy'}, or a session verdict.
local function grid_page(keys, args)
  local refused = checked(keys, args[1])
  if refused then return refused end
  if redis.call('EXISTS', keys[4]) == 0 then return {'none'} end
  local t = templates(args, 5)
  local r = reader(t, keys[5])
  if r.relations.blocked(args[t.rest]) then return {'none'} end
  if not r.visible(args[t.rest]) then return {'private'} end
  return timeline_cards(r, keys[3], args[3], args[4], tonumber(args[2]))
end

-- A tag's posts, newest first (an unknown tag has none). KEYS: account, revocation key (both ''
-- when anonymous), the tag's timeline, the viewer's likes (anonymous: absent). ARGV: epoch (''
-- when anonymous), limit, max score, last member, then the templates and the viewer's tail.
-- Reply: {'ok', posts JSON[, next score, next member]}, {'legacy'}, or a session verdict.
local function tag_page(keys, args)
  local refused = checked(keys, args[1])
  if refused then return refused end
  local r = reader(templates(args, 5), keys[4])
  return timeline_cards(r, keys[3], args[3], args[4], tonumber(args[2]))
end

-- One post. KEYS: account, revocation key ('' when anonymous), the viewer's likes (anonymous:
-- absent). ARGV: epoch ('' when anonymous), post id, then the templates and the viewer's tail.
-- Reply: {'ok', post JSON}, {'none'} for a deleted or unknown post or one whose author is
-- blocked either way, {'private'} for one of a private account the viewer may not see,
-- {'legacy'}, or a verdict.
local function post_card(keys, args)
  local refused = checked(keys, args[1])
  if refused then return refused end
  local r = reader(templates(args, 3), keys[3])
  local p = r.post(args[2])
  if p == false then return {'legacy'} end
  if not p or r.relations.blocked(p[2]) then return {'none'} end
  if not r.visible(p[2]) then return {'private'} end
  local card = r.card(args[2], p)
  r.settle()
  return {'ok', table.concat(card)}
end

-- Cards of posts found elsewhere (search hits), in the given order, deleted ones and those of
-- authors blocked either way, or private and not `visible` to the viewer, left out.
-- KEYS: account, revocation key ('' when anonymous), the viewer's likes (anonymous: absent).
-- ARGV: epoch ('' when anonymous), the number of posts n, n post ids, then the templates and
-- the viewer's tail.
-- Reply: {'ok', posts JSON}, {'legacy'}, or a session verdict.
local function post_cards(keys, args)
  local refused = checked(keys, args[1])
  if refused then return refused end
  local n = tonumber(args[2])
  local r = reader(templates(args, 3 + n), keys[3])
  local cards = {}
  for i = 3, 2 + n do
    local p = r.post(args[i])
    if p == false then return {'legacy'} end
    if p and not r.relations.blocked(p[2]) and r.visible(p[2]) then
      cards[#cards + 1] = r.card(args[i], p)
    end
  end
  r.settle()
  return reply(cards, nil)
end

local function live_post(t, id)
  local p = redis.call('HMGET', key(t.post, id), 'author_id', 'deleted', 'thumbnail')
  if not p[1] or p[2] == '1' then return nil end
  return p
end

-- A post's comments, oldest first. KEYS: account, revocation key ('' when anonymous), the
-- post's comments zset. ARGV: epoch ('' when anonymous), post id, limit, min score ('-inf'),
-- last member (''), then the templates and the viewer's tail. Reply: {'ok', comments JSON[,
-- next score, next member]}, {'none'} for a deleted or unknown post or one whose author is
-- blocked either way, {'private'} for one of a private account the viewer may not see, or a
-- session verdict. Comments of users blocked either way are left out
-- (their rows still move the cursor).
local function comments_page(keys, args)
  local refused = checked(keys, args[1])
  if refused then return refused end
  local t = templates(args, 6)
  local post = live_post(t, args[2])
  local r = reader(t, nil)
  if not post or r.relations.blocked(post[1]) then return {'none'} end
  if not r.visible(post[1]) then return {'private'} end
  local limit = tonumber(args[3])
  local rows = page_after(keys[3], args[4], args[5], limit + 1)
  local out, last = {}, nil
  for i = 1, math.min(#rows, 2 * limit), 2 do
    local c = redis.call('HMGET', key(t.comment, rows[i]), 'post_id', 'commenter_id',
                         'text', 'created_ms', 'deleted', 'mentions')
    if c[3] and c[5] ~= '1' and not r.relations.blocked(c[2]) then
      out[#out + 1] = '{"comment_id":"' .. rows[i] .. '","post_id":"' .. c[1] .. '","user":' ..
                      r.author(c[2]) .. ',"text":' .. cjson.encode(c[3]) ..
                      ',"created_at":"' .. rfc3339(c[4]) .. '","mentions":' ..
                      r.mentions(c[6]) .. '}'
    end
    last = {rows[i + 1], rows[i]}
  end
  return reply(out, (#rows > 2 * limit) and last or nil)
end

-- A notification's actors as the viewer sees them, and its count: the newest `shown` of the
-- bundle's kept actors, leaving out those whose activity the viewer does not see (then every
-- kept actor is read, and each one left out is taken off the count). nil when every actor read
-- was left out: the notification is not shown.
local function notice_actors(r, bundle, shown, count)
  local quiet = r.relations.any()
  local actors, left_out = {}, 0
  for _, actor in ipairs(redis.call('ZRANGE', bundle, 0, quiet and -1 or shown - 1, 'REV')) do
    if quiet and r.relations.hides_activity(actor) then
      left_out = left_out + 1
    elseif #actors < shown then
      actors[#actors + 1] = r.user(actor)
    end
  end
  if left_out > 0 and #actors == 0 then return nil end
  return actors, count - left_out
end

-- The viewer's notifications, grouped, newest activity first (projections/engagement/logic.py names
-- the groups: like:<post>, comment:<post>:<comment>, follow:<day>). KEYS: account, revocation
-- key, inbox zset, inbox meta hash. ARGV: epoch, limit, max score, last group, actors shown,
-- the group zsets' prefix, then the templates and the viewer's tail. Notifications about a post
-- deleted a moment ago are dropped (their purge follows); actors the viewer blocked, was blocked
-- by or muted are left out of each (and of its count), and one with no actor left is dropped.
-- Reply: {'ok', JSON[, next score, next group]} or a verdict.
local function notifications_page(keys, args)
  local refused = checked(keys, args[1])
  if refused then return refused end
  local limit, shown, prefix = tonumber(args[2]), tonumber(args[5]), args[6]
  local t = templates(args, 7)
  local r = reader(t, nil)
  local rows = page_before(keys[3], args[3], args[4], limit + 1)
  local fields = {'read'}  -- the meta of every notification on the page, in one read
  for i = 1, math.min(#rows, 2 * limit), 2 do
    fields[#fields + 1] = rows[i] .. '|n'
    fields[#fields + 1] = rows[i] .. '|id'
  end
  local metas = sliced('HMGET', keys[4], fields)
  local read_up_to = unpadded(metas[1] or '0')
  local out, last = {}, nil
  for i = 1, math.min(#rows, 2 * limit), 2 do
    local group = rows[i]
    last = {rows[i + 1], group}
    local kind, post, comment = string.match(group, '^(%a+):(%d+):?(%d*)$')
    local p = nil
    if kind ~= 'follow' then p = live_post(t, post) end
    if p and not r.visible(p[1]) then p = nil end  -- a mention in a post hidden from the viewer
    local meta, actors, count = nil, nil, 0
    if kind == 'follow' or p then
      meta = {metas[i + 1], metas[i + 2]}  -- the row's two fields, read above
      actors, count = notice_actors(r, prefix .. group, shown, tonumber(meta[1] or '0'))
    end
    if actors then
      local newest = unpadded(meta[2] or '0')
      local item = '{"notification_id":"' .. newest .. '","type":"' .. kind ..
                   '","actors":[' .. table.concat(actors, ',') .. '],"actor_count":' ..
                   count .. ',"created_at":"' .. rfc3339(rows[i + 1]) ..
                   '","read":' .. (id_le(newest, read_up_to) and 'true' or 'false')
      if p then
        local thumb = 'null'
        if p[3] and p[3] ~= '' then thumb = '"\1' .. string.sub(cjson.encode(p[3]), 2) end
        item = item .. ',"post_id":"' .. post .. '","thumbnail_url":' .. thumb
      end
      if comment and comment ~= '' then
        local c = redis.call('HMGET', key(t.comment, comment), 'text', 'deleted')
        local text = (c[1] and c[2] ~= '1') and cjson.encode(c[1]) or 'null'
        item = item .. ',"comment_id":"' .. comment .. '","text":' .. text
      end
      out[#out + 1] = item .. '}'
    end
  end
  return reply(out, (#rows > 2 * limit) and last or nil)
end

-- One zset's page for the per-group readers (projections/backends/redis_batch.py), the same
-- helpers the pages use: KEYS[1] the zset; ARGV: the position's score ('+inf' / '-inf' for the
-- first page), its member ('' for the first page), the page size. Reply: {member, score, ...}.
-- Every key in KEYS: these run on any shard.
local function zset_page_before(keys, args)
  return page_before(keys[1], args[1], args[2], tonumber(args[3]))
end

local function zset_page_after(keys, args)
  return page_after(keys[1], args[1], args[2], tonumber(args[3]))
end

redis.register_function{function_name = 'page_before', callback = zset_page_before,
                        flags = {'no-writes'}}
redis.register_function{function_name = 'page_after', callback = zset_page_after,
                        flags = {'no-writes'}}

local READ = {'no-writes', 'allow-cross-slot-keys'}
-- feed_page writes its deep-scroll frontier (a cache with a TTL): FCALL, not FCALL_RO
redis.register_function{function_name = 'feed_page', callback = feed_page_or_legacy,
                        flags = {'allow-cross-slot-keys'}}
redis.register_function{function_name = 'grid_page', callback = grid_page, flags = READ}
redis.register_function{function_name = 'tag_page', callback = tag_page, flags = READ}
redis.register_function{function_name = 'post_card', callback = post_card, flags = READ}
redis.register_function{function_name = 'post_cards', callback = post_cards, flags = READ}
redis.register_function{function_name = 'comments_page', callback = comments_page, flags = READ}
redis.register_function{function_name = 'notifications_page', callback = notifications_page,
                        flags = READ}
