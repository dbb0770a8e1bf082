"""The media agent's pure image core: validate an upload, cut its JPEG variants, hash it."""
