"""Bulk correction of review queues: `winnow review accept` and `winnow review undo`."""
