"""The rebuild: topics from the start to the high watermark, through the same HANDLERS."""
