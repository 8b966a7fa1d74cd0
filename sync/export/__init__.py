"""Versioned data set export: policy, splits, formats, card, atomic publish, verification.

``export_dataset(frame, dest, settings=, resolve=)`` turns a records frame (the
project-frame contract) into a published version under a directory or ``s3://`` prefix;
``verify_export(dest, settings)`` checks one. ``winnow export`` is the command (``cli``).
"""
