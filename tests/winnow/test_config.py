from pathlib import Path

import pytest

from winnow.config import child_env, get_settings, library_env, masked_dump
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


def test_ui_settings_from_their_own_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINNOW_UI__API_URL", "http://api.example:8000/")
    monkeypatch.setenv("WINNOW_UI__API_KEY", "ui-key-123")
    monkeypatch.setenv("WINNOW_UI__LABEL_STUDIO_URL", "http://ls.example:8080")
    ui = get_settings().ui
    assert ui.api_url == "http://api.example:8000"
    assert ui.api_key is not None and ui.api_key.get_secret_value() == "ui-key-123"
    assert ui.label_studio_url == "http://ls.example:8080"
    assert masked_dump(get_settings())["ui"]["api_key"] == "**********"


def test_older_ui_names_still_work_and_the_new_ones_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINNOW_UI_API_URL", "http://old.example:8000")
    monkeypatch.setenv("WINNOW_UI_API_KEY", "old-key-123")
    monkeypatch.setenv("WINNOW_UI_LABEL_STUDIO_URL", "http://old-ls.example:8080")
    ui = get_settings().ui
    assert ui.api_url == "http://old.example:8000"
    assert ui.api_key is not None and ui.api_key.get_secret_value() == "old-key-123"
    assert ui.label_studio_url == "http://old-ls.example:8080"
    monkeypatch.setenv("WINNOW_UI__API_URL", "http://new.example:8000")
    ui = get_settings().ui
    assert ui.api_url == "http://new.example:8000"
    assert ui.api_key is not None and ui.api_key.get_secret_value() == "old-key-123"


def test_ui_key_in_yaml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "winnow.yaml").write_text("ui:\n  api_key: abc123\n")
    with pytest.raises(ConfigError, match="WINNOW_UI__API_KEY"):
        get_settings()


def test_qdrant_url_names_are_aliases_of_index_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QDRANT_URL", raising=False)
    assert get_settings().index.url is None
    monkeypatch.setenv("QDRANT_URL", "http://plain:6333")
    assert get_settings().index.url == "http://plain:6333"
    monkeypatch.setenv("WINNOW_QDRANT_URL", "http://winnow:6333")
    assert get_settings().index.url == "http://winnow:6333"  # the first name wins
    (tmp_path / "winnow.yaml").write_text("index:\n  url: http://yaml:6333\n")
    assert get_settings().index.url == "http://yaml:6333"  # as before: the setting wins
    monkeypatch.setenv("WINNOW_INDEX__URL", "http://env:6333")
    assert get_settings().index.url == "http://env:6333"


def test_child_env_copies_drops_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINNOW_LABEL_STUDIO__URL", "http://parent:8080")
    monkeypatch.setenv("KEEP_ME", "yes")
    env = child_env(drop=("WINNOW_LABEL_STUDIO__",), PGPASSWORD="pw")
    assert env["KEEP_ME"] == "yes" and env["PGPASSWORD"] == "pw"
    assert "WINNOW_LABEL_STUDIO__URL" not in env
    env["KEEP_ME"] = "changed"  # a copy: the parent's environment is untouched
    assert child_env()["KEEP_ME"] == "yes" and "PGPASSWORD" not in child_env()


def test_library_env_takes_the_first_set_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    assert library_env("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") == ""
    monkeypatch.setenv("HF_HUB_OFFLINE", "")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    assert library_env("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE") == "1"
