"""The composition root and the `photofeed` command: the one place that builds and wires clients."""
