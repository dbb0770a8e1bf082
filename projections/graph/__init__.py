"""The users/graph group: users, the follow graph, counts, private accounts and follow
requests, blocks and mutes, celebrity flags.

handlers.py (pure), requests.py (the follow requests' state machine, pure), visibility.py (who
may see an account's content, pure), relations.py (the block/mute rule and its seq-guarded
state, pure), ports.py, keys.py (its Redis keys), graph.lua (its Valkey Functions library),
redis.py and cassandra.py (adapters; cassandra_requests.py: the follow requests part).
"""
