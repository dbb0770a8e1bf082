"""The event-log contract: Avro schemas, the Python event types, the codec and Snowflake ids.

Imports nothing of ours; every other package builds on it.
"""
