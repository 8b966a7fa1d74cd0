"""Getting images in, independent of where they go: URL lists parsed into validated rows,
a bounded concurrent downloader behind the core's SSRF guard, and folder-style layouts read
from object keys. ``sync`` uses these to fill Label Studio projects."""

from winnow.ingest.download import Download, Downloader, DownloadPolicy, HostRateLimiter
from winnow.ingest.layout import labels_from_keys
from winnow.ingest.url_list import RowError, UrlList, UrlRow, parse_url_list

__all__ = [
    "Download",
    "DownloadPolicy",
    "Downloader",
    "HostRateLimiter",
    "RowError",
    "UrlList",
    "UrlRow",
    "labels_from_keys",
    "parse_url_list",
]
