"""Read models as pure projections: `event -> writes`, the ports, one adapter file per backend."""
