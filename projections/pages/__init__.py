"""Pages in one server-side call: the read library pages.lua, its Redis adapter redis.py, and
channel.py, the adapter's own pipelined Valkey connection (hiredis-parsed, redis-py's errors)."""
