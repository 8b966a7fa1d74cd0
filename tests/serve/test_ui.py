"""The Streamlit UI in real headless Chromium, against the real API and index."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

from serve.app import create_app
from serve.ui.process import StreamlitUI
from winnow.services.asgi_thread import AsgiThread
from winnow.services.browser import HeadlessBrowser, chromium_binary

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture(scope="module")
def stack(serve_settings, parts, tmp_path_factory):
    try:
        chromium_binary()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    api = AsgiThread(create_app(serve_settings, parts=parts, load=False), name="the API")
    with api:
        log = tmp_path_factory.mktemp("ui") / "streamlit.log"
        with StreamlitUI(serve_settings, api.url, log) as ui, HeadlessBrowser() as browser:
            yield api, ui, browser


def test_overview_shows_counts_and_sample_grids_from_the_api(stack) -> None:
    api, ui, browser = stack
    browser.open(ui.url)
    text = browser.wait_for_text(
        "images", "18", "sample: cat", "sample: espresso", "sample: space shuttle", timeout_s=60
    )
    assert "flagged" in text and "3" in text
    assert "no preview" not in text  # every thumbnail came back from the API
    _screenshot(browser, "ui_overview.png")


def test_the_ui_reports_a_dead_api_instead_of_crashing(serve_settings, tmp_path) -> None:
    with (
        StreamlitUI(serve_settings, "http://127.0.0.1:9", tmp_path / "ui.log") as ui,
        HeadlessBrowser() as browser,
    ):
        browser.open(ui.url)
        text = browser.wait_for_text("unreachable", timeout_s=60)
    assert "Traceback" not in text


def test_upload_to_classify_shows_zero_shot_probabilities(stack, tmp_path) -> None:
    api, ui, browser = stack
    photo = tmp_path / "cat.jpg"
    Image.fromarray(data.chelsea()).save(photo, format="JPEG")
    browser.open(ui.url)
    browser.wait_for_text("Classify", timeout_s=60)
    browser.evaluate(
        "[...document.querySelectorAll('[role=tab]')]"
        ".find(b => b.innerText.includes('Classify')).click()"
    )
    browser.wait_for_text("an image to classify")
    browser.upload("input[type=file]", photo, index=0)
    text = browser.wait_for_text("zero-shot", "top: cat", timeout_s=60)
    assert "no trained model for this project yet" in text
    _screenshot(browser, "ui_classify.png")


def _screenshot(browser: HeadlessBrowser, name: str) -> None:
    """For the README, when WINNOW_SCREENSHOTS is set: let charts finish drawing first."""
    if os.environ.get("WINNOW_SCREENSHOTS"):
        time.sleep(4)
        browser.screenshot(DOCS_IMAGES / name)
