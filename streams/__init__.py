"""The Faust worker: app factory, topic declarations, thin agents (decode, handle, write)."""
