"""One small app per contender; each serves the same routes (see ``_common``)."""
