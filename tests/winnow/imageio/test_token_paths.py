"""Which Label Studio URLs may carry its API key: file paths only, as sent and as decoded."""

from __future__ import annotations

import pytest

from winnow.imageio.httpfetch import TrustedOrigin, is_token_path

LS = "http://ls.example:8080"


@pytest.mark.parametrize(
    "url",
    [
        f"{LS}/data/upload/12/abc.jpg",
        f"{LS}/data/local-files/?d=set/a.jpg",
        f"{LS}/data/local-files?d=set/a.jpg",
        f"{LS}/data/upload/12/a%20b.jpg",
    ],
)
def test_file_paths_take_the_token(url: str) -> None:
    assert is_token_path(url)


@pytest.mark.parametrize(
    "url",
    [
        f"{LS}/api/projects/",
        f"{LS}/",
        f"{LS}/data/uploads/x.jpg",
        f"{LS}/data/local-filesX?d=a",
        f"{LS}/DATA/upload/x.jpg",
        f"{LS}//data/upload/x.jpg",
        f"{LS}/data/upload/../../api/projects",
        f"{LS}/data/upload/%2e%2e/%2e%2e/api/projects",
        f"{LS}/data/upload/..%2f..%2fapi/projects",
        f"{LS}/api/projects?next=/data/upload/x.jpg",
    ],
)
def test_other_paths_never_do(url: str) -> None:
    assert not is_token_path(url)


def test_the_token_stays_on_its_origin() -> None:
    origin = TrustedOrigin("http", "ls.example", 8080, token="t")
    assert origin.takes_token(f"{LS}/data/upload/1/a.jpg")
    assert not origin.takes_token("http://ls.example:8081/data/upload/1/a.jpg")
    assert not origin.takes_token("https://ls.example:8080/data/upload/1/a.jpg")
    assert not TrustedOrigin("http", "ls.example", 8080).takes_token(f"{LS}/data/upload/1/a.jpg")
