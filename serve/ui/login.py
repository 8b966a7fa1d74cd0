"""The web UI's login: one shared password (``ui.password``), asked before any page runs.

The UI holds its own API key, so without a login anyone who reaches its port could use the
API through it. Streamlit's built-in login needs an OpenID Connect provider; a password
form works offline and needs no extra service. A session stays logged in until its browser
tab closes; a wrong password costs a second, which slows guessing.
"""

from __future__ import annotations

import ipaddress
import secrets
import time

import streamlit as st

from winnow.config import Settings
from winnow.errors import ConfigError

_SESSION_KEY = "winnow_logged_in"
WRONG_PASSWORD_DELAY_S = 1.0


def logged_in(settings: Settings) -> bool:
    """True when no password is configured or this session has entered it; else draw the
    login form and return False, so the caller renders nothing else."""
    expected = settings.ui.password
    if expected is None or st.session_state.get(_SESSION_KEY):
        return True
    with st.form("login"):
        entered = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        if secrets.compare_digest(entered.encode(), expected.get_secret_value().encode()):
            st.session_state[_SESSION_KEY] = True
            st.rerun()
        time.sleep(WRONG_PASSWORD_DELAY_S)
        st.error("wrong password")
    return False


def check_exposure(settings: Settings, host: str) -> None:
    """Refuse to listen beyond loopback without ``ui.password`` (as ``winnow serve`` refuses
    to without API keys): the UI would hand its API key to anyone on the network."""
    if settings.ui.password is not None or _is_loopback(host):
        return
    raise ConfigError(
        f"refusing to run the web UI on {host} without a login: set WINNOW_UI__PASSWORD, "
        "or listen on 127.0.0.1"
    )


def _is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name may resolve to any interface
