"""Counter audit: logic.py (pure drift logic), redis.py (the scanner that reads and repairs)."""
