"""Winnow's web UI: the data set at a glance, classify an upload, search by image or text.

Run with ``winnow ui``. Every number and image comes from the API (``ui.api_url``, set by
``winnow ui`` as ``WINNOW_UI__API_URL``), so the UI shows exactly what services see.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from serve.ui.client import ApiClient, ApiProblem
from serve.ui.login import logged_in
from winnow.config import get_settings
from winnow.errors import ConfigError

GRID_COLUMNS = 6


def _gallery(api: ApiClient, hits: list[dict], *, show_score: bool = True) -> None:
    columns = st.columns(GRID_COLUMNS)
    for i, hit in enumerate(hits):
        with columns[i % GRID_COLUMNS]:
            try:
                st.image(api.thumbnail(hit["task_id"]), use_container_width=True)
            except ApiProblem as exc:
                st.caption(f"no preview ({exc})")
            caption = ", ".join(hit["labels"]) or "unlabelled"
            if show_score:
                caption += f" · {hit['score']:.3f}"
            if hit["flags"]:
                caption += " · ⚑ " + ", ".join(hit["flags"])
            st.caption(caption)
            if hit.get("label_studio_url"):
                st.markdown(f"[task {hit['task_id']}]({hit['label_studio_url']})")


def overview(api: ApiClient) -> None:
    stats = api.stats()
    a, b, c = st.columns(3)
    a.metric("images", stats["points"])
    b.metric("classes", len(stats["per_label"]))
    c.metric("flagged", stats["flagged"])
    left, right = st.columns(2)
    left.subheader("per class")
    left.bar_chart(pd.Series(stats["per_label"], name="images"))
    right.subheader("per split")
    right.bar_chart(pd.Series(stats["per_split"], name="images"))
    if stats["per_flag"]:
        st.subheader("open flags")
        st.bar_chart(pd.Series(stats["per_flag"], name="images"))
    for label in sorted(stats["per_label"]):
        st.subheader(f"sample: {label}")
        _gallery(api, api.samples(label, GRID_COLUMNS), show_score=False)


def classify(api: ApiClient) -> None:
    upload = st.file_uploader("an image to classify", key="classify")
    if upload is None:
        return
    st.image(upload.getvalue(), width=320)
    answer = api.classify(upload.name, upload.getvalue())
    for title, key in (("trained model", "trained"), ("zero-shot", "zero_shot")):
        part = answer.get(key)
        st.subheader(title)
        if part is None:
            st.info(f"no {title} for this project yet")
            continue
        st.caption(f"model version {part['model_version']} · top: {part['top']}")
        st.bar_chart(pd.Series(part["probabilities"], name="probability"))


def search(api: ApiClient) -> None:
    k = st.slider("results", 4, 48, 12, step=4)
    exclude = st.checkbox("hide flagged images")
    filters = {"exclude_flagged": exclude}
    text = st.text_input("search by text (needs CLIP weights)")
    upload = st.file_uploader("or search by image", key="search")
    if text:
        _gallery(api, api.search_text(text, k, **filters))
    elif upload is not None:
        st.image(upload.getvalue(), width=240)
        _gallery(api, api.search_image(upload.name, upload.getvalue(), k, **filters))


def main() -> None:
    st.set_page_config(page_title="Winnow", layout="wide")
    st.title("Winnow")
    try:
        settings = get_settings()  # per run: Streamlit re-runs this script on every interaction
    except ConfigError as exc:
        st.error(str(exc))
        return
    if not logged_in(settings):
        return
    api = ApiClient.from_settings(settings)
    tabs = st.tabs(["Data set", "Classify", "Search"])
    for tab, page in zip(tabs, (overview, classify, search), strict=True):
        with tab:
            try:
                page(api)
            except ApiProblem as exc:
                st.error(str(exc))
    if settings.ui.label_studio_url:
        st.sidebar.markdown(f"[Open Label Studio]({settings.ui.label_studio_url})")


main()
