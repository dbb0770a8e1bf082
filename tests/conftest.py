"""Shared fixtures. The real local stack starts once per session, only for tests that ask."""

pytest_plugins = ["tests.fixtures"]
