"""Projection versions: which version of each group serves reads, which one a replay builds;
whole-version compare and drop. ports.py, keys.py, redis.py, redis_admin.py.
"""
