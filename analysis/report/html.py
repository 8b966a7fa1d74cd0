"""Self-contained HTML: Jinja2 templates, figures as plotly JSON, images as base64 JPEG.

plotly.js (4.8 MB minified) is embedded once. ``plotlyjs="compressed"`` (the default) stores
it gzip-compressed in base64 (about 1.9 MB) and inflates it in the browser with the standard
``DecompressionStream`` (Chrome 80+, Firefox 113+, Safari 16.4+); ``"plain"`` embeds the
script as is for older browsers. Either way the file opens offline.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import json
from functools import cache
from typing import Any

import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from PIL import Image

PLOTLYJS_MODES = ("compressed", "plain")
THUMB_SIDE = 128


def thumbnail_data_uri(image: Image.Image, *, side: int = THUMB_SIDE, quality: int = 80) -> str:
    """A JPEG ``data:`` URI of ``image`` shrunk to fit ``side`` x ``side`` (RGB, any size)."""
    thumb = image.convert("RGB")
    thumb.thumbnail((side, side), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def figure_html(fig: go.Figure, name: str) -> Markup:
    """A placeholder div plus the figure's JSON; the page script draws it with Plotly."""
    payload = fig.to_json().replace("</", "<\\/")
    return Markup(
        f'<div class="figure" id="fig-{name}" data-figure="{name}"></div>'
        f'<script type="application/json" id="fig-{name}-json">{payload}</script>'
    )


@cache
def _plotly_source() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def plotly_script(mode: str = "compressed") -> Markup:
    """The ``<script>`` that makes ``Plotly`` available and then draws every figure."""
    if mode not in PLOTLYJS_MODES:
        raise ValueError(f"plotlyjs must be one of {PLOTLYJS_MODES}, got {mode!r}")
    source = _plotly_source().replace("</script", "<\\/script")
    if mode == "plain":
        return Markup(f"<script>{source}</script><script>winnowDraw();</script>")
    packed = base64.b64encode(gzip.compress(source.encode(), compresslevel=9, mtime=0))
    return Markup(
        f'<script id="plotlyjs-gz" type="application/octet-stream">{packed.decode()}</script>'
        "<script>(async () => {"
        "const b64 = document.getElementById('plotlyjs-gz').textContent;"
        "const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));"
        "const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));"
        "const code = await new Response(stream).text();"
        "const s = document.createElement('script'); s.text = code; document.head.appendChild(s);"
        "winnowDraw();"
        "})();</script>"
    )


def render_model_page(
    template: str,
    report: Any,
    *,
    curve_metrics: dict[str, tuple[str, str]],
    checklist: list,
    verdict: str,
    plotlyjs: str,
    generated: str | None,
    **extra: Any,
) -> str:
    """A model report page (single- or multi-label): the learning curve averaged over seeds,
    the figures, the checklist and its verdict. ``curve_metrics``: output column -> (input
    column, aggregation), besides ``n_train`` and ``seeds``, which every page shows."""
    curve = report.curve.groupby("fraction").agg(
        n_train=("n_train", "mean"), **curve_metrics, seeds=("seed", "count")
    )
    curve["n_train"] = curve["n_train"].round().astype(int)
    curve.index = [f"{100 * f:.0f}%" for f in curve.index]
    return (
        environment()
        .get_template(template)
        .render(
            r=report,
            summary=report.summary(),
            curve=curve,
            fig={name: figure_html(fig, name) for name, fig in report.figures.items()},
            checklist=checklist,
            go=verdict,
            plotly=plotly_script(plotlyjs),
            n_classes=len(report.split.classes),
            generated=generated or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            **extra,
        )
    )


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("analysis.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "–" if v != v else f"{100 * v:.1f}%"  # NaN-safe
    env.filters["num"] = _num
    env.filters["tojson_attr"] = lambda v: json.dumps(v)
    return env


def _num(value: object, digits: int = 3) -> str:
    if isinstance(value, float):
        if value != value:
            return "–"
        return f"{value:.{digits}f}" if abs(value) < 1e6 else f"{value:.3g}"
    return str(value)
