"""Writers for each export format: loose images and WebDataset shards while the bytes stream
through (``images``, ``webdataset``), then the tables built from the plan (``manifest``,
``detection`` for COCO and YOLO)."""
