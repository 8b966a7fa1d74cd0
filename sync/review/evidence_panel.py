"""The evidence panel: why a task was flagged, as a small self-contained HTML fragment.

Label Studio shows it in the labelling view through a ``HyperText`` tag bound to the task
field the sync writes (:mod:`sync.review.review_control`). Pure: sections in, a string out.
Every text and attribute is escaped, and only vetted URLs (:func:`safe_url`) become ``src``
or ``href``, so a hostile label, file name or URL in task data cannot inject markup or script.
Styles are inline, because the fragment is rendered inside Label Studio's page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from urllib.parse import parse_qsl, urlsplit

# Label Studio serves task files from these paths to the logged-in reviewer (same origin).
LS_FILE_PATHS = ("/data/upload/", "/data/local-files/")
# Query keys that carry credentials (presigned URLs, tokens): such URLs are never copied.
_SECRET_KEYS = ("signature", "token", "credential", "key", "sig", "auth", "secret", "password")
FINGERPRINT_ATTR = "data-winnow-fingerprint"  # what the panel was built from (evidence_keep)
_BOX = "font:13px/1.45 sans-serif;border:1px solid #d0d7de;border-radius:6px;padding:8px 10px"


@dataclass(frozen=True)
class Tile:
    """A thumbnail with its caption; ``image`` and ``link`` are shown only if safe."""

    caption: str
    image: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class Section:
    """One finding: a title, facts as (name, value) rows, thumbnails, and the raw evidence."""

    title: str
    score: float
    facts: list[tuple[str, str]] = field(default_factory=list)
    tiles: list[Tile] = field(default_factory=list)
    details: str = ""


def safe_url(url: object) -> str | None:
    """``url`` if a reviewer's browser may load it from the panel, else None.

    Allowed: Label Studio's own file paths (relative, no ``..``) and http(s) URLs without
    user info or credential-looking query keys. Refused: local paths, ``file:``, ``s3:``,
    ``javascript:``, ``data:`` and anything with whitespace or control characters."""
    if not isinstance(url, str) or not url or any(c.isspace() or ord(c) < 32 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if ".." in parts.path.split("/"):
        return None
    if not parts.scheme and not parts.netloc:
        return url if parts.path.startswith(LS_FILE_PATHS) else None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password:
        return None
    keys = [k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
    if any(secret in k for k in keys for secret in _SECRET_KEYS):
        return None
    return url


def task_link(project: int, task_id: int) -> str:
    """Relative link that opens a task in Label Studio's labelling view."""
    return f"/projects/{int(project)}/data?task={int(task_id)}"


def render_panel(
    sections: list[Section], *, fingerprint: str | None = None, as_of: str | None = None
) -> str:
    """The panel for one task ("" without sections). ``fingerprint``: what it was built from,
    kept as an attribute so a later sync can tell whether it is still current;
    ``as_of``: when it was built, shown because other tasks' labels in it can go stale."""
    if not sections:
        return ""
    body = "".join(_section(s) for s in sections)
    mark = f' {FINGERPRINT_ATTR}="{escape(fingerprint)}"' if fingerprint else ""
    footer = (
        f'<div style="color:#57606a;font-size:11px;margin-top:6px">Built {escape(as_of)}. '
        "Kept while its findings stay the same, so other tasks' labels and the scores "
        "shown may have changed since.</div>"
        if as_of
        else ""
    )
    return (
        f'<div class="winnow-evidence"{mark} style="{_BOX}">'
        '<div style="font-weight:600;margin-bottom:4px">Why Winnow flagged this task</div>'
        f"{body}{footer}</div>"
    )


def _section(s: Section) -> str:
    rows = "".join(
        f'<tr><td style="color:#57606a;padding-right:8px">{escape(k)}</td><td>{escape(v)}</td></tr>'
        for k, v in s.facts
    )
    tiles = "".join(_tile(t) for t in s.tiles)
    details = escape(s.details)
    return (
        '<div style="margin-top:6px">'
        f"<b>{escape(s.title)}</b> "
        f'<span style="color:#57606a">severity {s.score:.2f}</span>'
        + (f"<table>{rows}</table>" if rows else "")
        + (f'<div style="display:flex;flex-wrap:wrap;gap:6px">{tiles}</div>' if tiles else "")
        + (f'<div style="color:#57606a;font-size:11px">{details}</div>' if details else "")
        + "</div>"
    )


def _tile(t: Tile) -> str:
    image, link = safe_url(t.image), _safe_link(t.link)
    inner = (
        f'<img src="{escape(image)}" alt="{escape(t.caption)}" loading="lazy" '
        'style="height:72px;max-width:110px;object-fit:cover;display:block">'
        if image
        else ""
    ) + f'<div style="font-size:12px">{escape(t.caption)}</div>'
    if link:
        inner = f'<a href="{escape(link)}" target="_blank" rel="noopener noreferrer">{inner}</a>'
    return f'<div style="text-align:center">{inner}</div>'


def _safe_link(link: str | None) -> str | None:
    """Task links are relative paths the sync built; anything else must pass :func:`safe_url`."""
    if isinstance(link, str) and link.startswith("/projects/") and safe_url(link) is None:
        return link if all(c.isalnum() or c in "/?=&_-" for c in link) else None
    return safe_url(link)
