"""The similarity and classify API over the vector index, and its small web UI."""
