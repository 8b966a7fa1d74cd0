"""Finding 6: the web UI holds its own API key, so it sits behind a login.

Performed in real headless Chromium against the real Streamlit UI: before the password is
entered the page runs nothing that reaches the API; a wrong password shows nothing more;
the right one opens the pages. The API here is a dead address, so "unreachable" on the page
proves the UI's code ran (and only then). Off loopback, `winnow ui` refuses to start
without a password.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from serve.ui.login import check_exposure
from serve.ui.process import StreamlitUI
from winnow.config import UiSettings, get_settings
from winnow.errors import ConfigError
from winnow.services.browser import HeadlessBrowser, chromium_binary

pytestmark = pytest.mark.integration
PASSWORD = "correct-horse-battery-staple"


def _with_ui(tmp_path, **ui):
    settings = get_settings(data_dir=tmp_path)
    return settings.model_copy(update={"ui": UiSettings(api_key=SecretStr("ui-key-123"), **ui)})


def _log_in(browser: HeadlessBrowser, password: str) -> None:
    browser.evaluate("document.querySelector('input[type=password]').focus()")
    browser.call("Input.insertText", text=password)
    browser.evaluate(
        "[...document.querySelectorAll('button')].find(b => b.innerText.includes('Log in')).click()"
    )


def test_the_ui_shows_nothing_until_the_password_is_entered(tmp_path):
    try:
        chromium_binary()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))
    settings = _with_ui(tmp_path, password=SecretStr(PASSWORD))
    with (
        StreamlitUI(settings, "http://127.0.0.1:9", tmp_path / "ui.log") as ui,
        HeadlessBrowser() as browser,
    ):
        browser.open(ui.url)
        text = browser.wait_for_text("Password", "Log in", timeout_s=60)
        assert "unreachable" not in text and "Data set" not in text
        _log_in(browser, "wrong-password")
        text = browser.wait_for_text("wrong password", timeout_s=30)
        assert "unreachable" not in text and "Data set" not in text
        browser.evaluate("document.querySelector('input[type=password]').value = ''")
        browser.open(ui.url)  # a fresh session: the wrong attempt left nothing behind
        browser.wait_for_text("Password", timeout_s=60)
        _log_in(browser, PASSWORD)
        text = browser.wait_for_text("unreachable", timeout_s=60)
        assert "Password" not in text


def test_without_a_password_the_ui_refuses_to_listen_beyond_loopback(tmp_path):
    open_settings = _with_ui(tmp_path)
    with pytest.raises(ConfigError, match="WINNOW_UI__PASSWORD"):
        check_exposure(open_settings, "0.0.0.0")
    check_exposure(open_settings, "127.0.0.1")  # loopback stays as before
    check_exposure(_with_ui(tmp_path, password=SecretStr(PASSWORD)), "0.0.0.0")
