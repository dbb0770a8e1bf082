"""The photos group: each upload's status and the content-addressed media index.

handlers.py (pure), ports.py, keys.py, photos.lua (its Valkey Functions library), redis.py
(adapter).
"""
