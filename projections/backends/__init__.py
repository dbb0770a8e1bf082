"""Plumbing the groups' adapters share: Redis function-call batches (redis_batch.py), the
seq-guarded generic writes (versioned.lua), loading and checking the Valkey Functions libraries
(functions.py), the Cassandra store, split Redis/Cassandra wiring, applied offsets, key helpers.
"""
