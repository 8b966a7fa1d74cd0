"""Bulk correction of review queues: the `winnow review` commands (work in sync.review.accept)."""
