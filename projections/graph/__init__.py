"""The users/graph group: users, the follow graph, counts, celebrity flags.

handlers.py (pure), ports.py, keys.py (its Redis keys), graph.lua (its Valkey Functions library),
redis.py and cassandra.py (adapters).
"""
