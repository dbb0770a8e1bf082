"""The Faust worker: app factory, topic declarations and thin agents (decode -> handlers -> adapters)."""
