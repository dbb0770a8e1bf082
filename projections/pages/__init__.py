"""Pages in one server-side call: the read library pages.lua and its Redis adapter."""
