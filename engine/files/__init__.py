"""Files: the adapter protocol and its stores (filesystem, GridFS), upload policy, and signed download URLs."""
