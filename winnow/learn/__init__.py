"""Models trained on a project's own annotations: the linear head on cached embeddings first,
then (optionally) a fine-tuned network, kept in a versioned registry."""
