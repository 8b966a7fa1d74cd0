"""``winnow sync --watch``: sync, sleep, repeat. A failed round is reported and retried at the
next tick (the state keeps its partial progress); Ctrl-C stops between rounds."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from winnow.errors import ConfigError, WinnowError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_period(text: str) -> float:
    """Seconds in a period such as ``90s``, ``10m``, ``1h30m`` or a bare number of seconds."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ConfigError(f"{text!r} is not a period such as 30s, 10m or 1h")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ConfigError(f"the period must be positive, got {text!r}")
    return seconds


def watch(
    round_: Callable[[], None],
    *,
    every_s: float,
    on_error: Callable[[WinnowError], None],
    rounds: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run ``round_`` every ``every_s`` seconds (start to start); returns rounds run."""
    done = 0
    while rounds is None or done < rounds:
        started = time.monotonic()
        try:
            round_()
        except WinnowError as exc:
            on_error(exc)
        done += 1
        if rounds is not None and done >= rounds:
            break
        sleep(max(0.0, every_s - (time.monotonic() - started)))
    return done
