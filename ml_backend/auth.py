"""HTTP basic auth, which Label Studio can send to an ML backend.

On when ``backend.basic_auth_user`` and ``WINNOW_BACKEND__BASIC_AUTH_PASSWORD`` are set
(the password only from the environment). In Label Studio: Model > Connect model >
Authentication method "Basic Authentication" with the same user and password.

Optional only on loopback: whoever reaches the backend can start training, overwrite a
project's label config through ``/setup`` and make ``/predict`` fetch images, so
:func:`check_exposure` refuses any other address without credentials, as ``winnow serve``
refuses one without API keys.
"""

from __future__ import annotations

import ipaddress
import secrets

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from winnow.config import Settings
from winnow.errors import ConfigError

_basic = HTTPBasic(auto_error=False)


class AuthError(Exception):
    """Missing or wrong credentials; the app answers 401 with a Basic challenge."""


def require_auth(
    request: Request, credentials: HTTPBasicCredentials | None = Depends(_basic)
) -> None:
    """FastAPI dependency; reads the settings from ``request.app.state.backend``."""
    settings: Settings = request.app.state.backend.settings
    user, password = settings.backend.basic_auth_user, settings.backend.basic_auth_password
    if user is None or password is None:
        return
    if credentials is None:
        raise AuthError()
    # both comparisons always run, so timing does not tell which part was wrong
    user_ok = secrets.compare_digest(credentials.username.encode(), user.encode())
    pass_ok = secrets.compare_digest(
        credentials.password.encode(), password.get_secret_value().encode()
    )
    if not (user_ok and pass_ok):
        raise AuthError()


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address to listen on) is reachable from this machine only."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any interface


def check_exposure(settings: Settings, host: str) -> None:
    """Raise :class:`ConfigError` when listening on ``host`` would expose the backend
    without basic auth."""
    if is_loopback(host) or basic_auth(settings) is not None:
        return
    raise ConfigError(
        f"refusing to run the ML backend on {host} without basic auth: set "
        "WINNOW_BACKEND__BASIC_AUTH_USER and WINNOW_BACKEND__BASIC_AUTH_PASSWORD (and give "
        "Label Studio the same under Model > Connect model > Basic Authentication), or "
        "listen on 127.0.0.1"
    )


def basic_auth(settings: Settings) -> tuple[str, str] | None:
    """``(user, password)`` when basic auth is configured, for clients of this backend."""
    user, password = settings.backend.basic_auth_user, settings.backend.basic_auth_password
    if user is None or password is None:
        return None
    return user, password.get_secret_value()
