"""Plumbing the groups' adapters share: Redis script batches, the Cassandra store, split
Redis/Cassandra wiring, Valkey Functions loading, applied offsets, key helpers.
"""
