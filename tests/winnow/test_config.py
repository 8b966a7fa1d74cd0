from pathlib import Path

import pytest

from winnow.config import get_settings, masked_dump
from winnow.errors import ConfigError


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in list(__import__("os").environ):
        if key.startswith("WINNOW_"):
            monkeypatch.delenv(key)
    return tmp_path


def test_defaults_without_file_or_env() -> None:
    s = get_settings()
    assert s.embedding.kind == "backbone"
    assert s.label_studio.url == "http://127.0.0.1:8080"
    assert s.store_path == Path(".winnow/features.sqlite")


def test_yaml_then_env_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "winnow.yaml").write_text(
        "label_studio:\n  url: http://ls.example:8080/\nembedding:\n  batch_size: 8\n"
    )
    assert get_settings().label_studio.url == "http://ls.example:8080"  # trailing / normalised
    monkeypatch.setenv("WINNOW_EMBEDDING__BATCH_SIZE", "16")
    s = get_settings()
    assert s.embedding.batch_size == 16
    assert s.label_studio.url == "http://ls.example:8080"


def test_secret_in_yaml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "winnow.yaml").write_text("label_studio:\n  api_key: abc123\n")
    with pytest.raises(ConfigError, match="WINNOW_LABEL_STUDIO__API_KEY"):
        get_settings()


def test_placeholder_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINNOW_LABEL_STUDIO__API_KEY", "changethis")
    with pytest.raises(ConfigError, match="placeholder"):
        get_settings()


def test_masked_dump_hides_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINNOW_S3__SECRET_ACCESS_KEY", "real-secret-value")
    dumped = masked_dump(get_settings())
    assert dumped["s3"]["secret_access_key"] == "**********"
    assert "real-secret-value" not in repr(dumped)


@pytest.mark.parametrize(
    ("env", "value", "match"),
    [
        ("WINNOW_LABEL_STUDIO__URL", "ftp://x", "http"),
        ("WINNOW_EMBEDDING__BATCH_SIZE", "0", "batch_size"),
        ("WINNOW_EMBEDDING__KIND", "resnet", "kind"),
    ],
)
def test_invalid_values_name_the_field(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, match: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=match):
        get_settings()


def test_bad_yaml_and_missing_explicit_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "winnow.yaml").write_text("a: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        get_settings()
    monkeypatch.setenv("WINNOW_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="does not exist"):
        get_settings()
