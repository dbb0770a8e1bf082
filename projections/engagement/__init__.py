"""The engagement group: likes, comments, their counts, notifications.

logic.py (pure), ports.py, keys.py, scripts.py (its Lua), redis.py and cassandra.py (adapters).
"""
