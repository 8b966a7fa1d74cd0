"""``winnow import``: a folder, URL list or S3 prefix into a Label Studio project, with the
labels the source implies as annotations and the provenance of every image recorded."""

from sync.importing.job import ImportOptions, run_import, source_kind
from sync.importing.summary import ImportSummary, render_summary

__all__ = ["ImportOptions", "ImportSummary", "render_summary", "run_import", "source_kind"]
