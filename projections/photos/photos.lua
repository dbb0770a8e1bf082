#!lua name=photofeed_photos
-- The photos group's content-addressed index: which photos reference which content (variants
-- are shared by byte-identical uploads), and what a deleted post releases. Its seq-guarded photo
-- states are photofeed_versioned's; projections/photos/redis.py calls both.

-- Content references. KEYS per entry: the content hash, its reference set, the photo hash; ARGV
-- per entry: photo id, n, then n field/value pairs. A deleted photo references nothing and adds
-- nothing: the index then holds the same whatever order the photos and posts topics were read in.
-- Returns the number of entries.
local function add_content(keys, args)
  local a = 1
  for k = 1, #keys, 3 do
    local photo, n = args[a], tonumber(args[a + 1])
    if redis.call('HGET', keys[k + 2], 'status') ~= 'deleted' then
      for i = a + 2, a + 2 * n, 2 do redis.call('HSET', keys[k], args[i], args[i + 1]) end
      redis.call('SADD', keys[k + 1], photo)
    end
    a = a + 2 + 2 * n
  end
  return #keys / 3
end

-- Photos whose post was deleted. KEYS per entry: the photo hash; ARGV[1], ARGV[2]: the key
-- templates of a content hash and of its reference set (`%s`: the sha256, from PhotoKeys), then
-- per entry: seq, photo id. When newer: status becomes 'deleted' and the photo leaves its
-- content's reference set (the content the photo hash records); content no photo references
-- leaves the index (its variants may then be deleted from S3). Returns the number of entries.
local function release_photos(keys, args)
  local content, refs_of = args[1], args[2]
  for k = 1, #keys do
    local seq, photo = args[2 * k + 1], args[2 * k + 2]
    local current = redis.call('HGET', keys[k], '_v')
    if not current or current < seq then
      redis.call('HSET', keys[k], '_v', seq, 'status', 'deleted')
      local sha = redis.call('HGET', keys[k], 'sha256')
      if sha then
        local refs = string.format(refs_of, sha)
        redis.call('SREM', refs, photo)
        if redis.call('SCARD', refs) == 0 then redis.call('DEL', string.format(content, sha)) end
      end
    end
  end
  return #keys
end

redis.register_function{function_name = 'add_content', callback = add_content}
-- no-cluster: the content keys are named at run time, from the sha256 the photo hash records
redis.register_function{function_name = 'release_photos', callback = release_photos,
                        flags = {'no-cluster'}}
