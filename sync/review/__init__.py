"""Sync jobs: pull a Label Studio project, audit it, push review queues back."""
