"""Active learning in the backend: webhook triggers, one background training worker, and
serving the trained model in place of zero-shot once every class has enough annotations."""
