"""The feeds group: posts, author timelines, home feeds (hybrid fan-out).

logic.py (pure planning), query.py (the read path's merge), cards.py (pre-rendered post JSON),
ports.py, keys.py, feeds.lua (its Valkey Functions library), redis.py and cassandra.py (adapters),
memory.py (an in-memory store for pure tests, held to the same contract suite).
"""
