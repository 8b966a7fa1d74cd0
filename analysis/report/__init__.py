"""HTML reports: the data report (EDA of a labelled image set) and the model report.

Computations here are pure (arrays and frames in, numbers and figures out); the adapters in
``sync`` gather the inputs (feature store, audits, models, thumbnails) and write the file.
"""
