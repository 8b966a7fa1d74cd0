"""Retries against Label Studio: 5xx and connection failures are retried with backoff, then
become one clear LabelStudioError; 4xx answers are not retried. The network boundary is an
httpx mock transport under the real SDK client."""

from __future__ import annotations

import httpx
import pytest
from label_studio_sdk import LabelStudio

from sync.review.calls import Caller
from sync.review.watch import parse_period, watch
from winnow.errors import ConfigError, LabelStudioError


def _client(answers: list[int | Exception]) -> tuple[LabelStudio, list[int]]:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        answer = answers[min(len(calls), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        body = (
            {"id": 3, "title": "p", "label_config": "<View/>"}
            if answer == 200
            else {"detail": "boom"}
        )
        return httpx.Response(answer, json=body)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return LabelStudio(base_url="http://ls.test", api_key="k", httpx_client=http), calls


def test_5xx_and_connection_errors_are_retried_then_succeed() -> None:
    ls, calls = _client([503, httpx.ConnectError("refused"), 200])
    caller = Caller(3, min_wait_s=0.001, max_wait_s=0.01)
    assert caller("read project 3", ls.projects.get, id=3).id == 3
    assert len(calls) == 3


def test_a_server_that_stays_down_gives_one_clear_error() -> None:
    ls, calls = _client([502])
    with pytest.raises(LabelStudioError, match=r"read project 3.*HTTP 502.*3 attempts"):
        Caller(2, min_wait_s=0.001, max_wait_s=0.01)("read project 3", ls.projects.get, id=3)
    assert len(calls) == 3


def test_client_errors_are_not_retried() -> None:
    ls, calls = _client([404])
    with pytest.raises(LabelStudioError, match="HTTP 404"):
        Caller(5, min_wait_s=0.001)("read project 3", ls.projects.get, id=3)
    assert len(calls) == 1


def test_periods_parse_and_bad_ones_are_refused() -> None:
    assert parse_period("10m") == 600 and parse_period("1h30m") == 5400
    assert parse_period("45") == 45 and parse_period("2s") == 2
    for bad in ("", "10x", "m10", "0", "1h 2m"):
        with pytest.raises(ConfigError):
            parse_period(bad)


def test_watch_keeps_going_after_a_failed_round() -> None:
    seen: list[str] = []
    rounds = iter([None, LabelStudioError("down"), None])

    def one() -> None:
        outcome = next(rounds)
        if outcome is not None:
            raise outcome
        seen.append("ok")

    sleeps: list[float] = []
    done = watch(
        one, every_s=5, on_error=lambda e: seen.append(str(e)), rounds=3, sleep=sleeps.append
    )
    assert done == 3 and seen == ["ok", "down", "ok"] and len(sleeps) == 2
