"""The engagement group: likes, comments, their counts, notifications.

logic.py (pure), ports.py, keys.py, engagement.lua (its Valkey Functions library), redis.py and
cassandra.py (adapters).
"""
