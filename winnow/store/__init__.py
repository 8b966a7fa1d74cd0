"""Persistent stores shared by every Winnow component: the content-addressed feature store."""

from winnow.store.feature_store import FeatureStore, ImageRecord, SourceRecord

__all__ = ["FeatureStore", "ImageRecord", "SourceRecord"]
