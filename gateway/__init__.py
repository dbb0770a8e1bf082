"""The HTTP API: commands become events, queries read projections."""
