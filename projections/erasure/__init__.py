"""Erasure of one user from every group, per backend (redis.py, cassandra.py)."""
