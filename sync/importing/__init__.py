"""``winnow import``: a folder, URL list or S3 prefix into a Label Studio project, with the
labels the source implies as annotations and the provenance of every image recorded."""
