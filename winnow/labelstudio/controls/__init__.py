"""One module per Label Studio control tag that Winnow can pre-annotate (Choices, for now)."""
