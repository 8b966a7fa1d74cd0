"""Per-image features computed once per content: identity, metadata, perceptual hashes,
quality measurements and embeddings.

``walk`` lists images, ``measure`` computes hashes and quality signals, ``worker`` does the
per-image work in worker processes (which must not import torch, so this package imports
nothing eagerly), and ``extract`` orchestrates and fills the feature store.
"""
