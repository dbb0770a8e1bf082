"""Projection versions: which version of each group serves reads, which one a replay builds;
whole-version compare and drop. ports.py, keys.py, redis.py, redis_admin.py, memory.py (an
in-memory registry for pure tests, held to the same contract suite).
"""
