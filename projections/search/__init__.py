"""The search group: captions, tags and usernames.

logic.py (pure: what is indexed, query parsing), ports.py, sqlite.py (embedded FTS5) and
elasticsearch.py (scale-out) adapters.
"""
