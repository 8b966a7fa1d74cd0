"""URL lists: every format, column aliases, and one clear error per bad row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnow.errors import ConfigError
from winnow.ingest.url_list import UrlRow, parse_url_list, parse_url_text


def test_csv_with_aliases_multi_labels_and_normalised_fields(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        "\ufeffImage URL,Label,Page,License,Creator,Date,notes\n"
        "https://example.org/a.jpg,cat,https://example.org/a,CC-BY-4.0,Ann,2021-03-04,x\n"
        "https://example.org/b.jpg, cat | dog ,,, ,2020,\n"
        "\n"
        "https://example.org/c.jpg,,,,,2019-07-01T10:00:00Z,\n",
        encoding="utf-8",
    )
    got = parse_url_list(path)

    assert got.errors == []
    a, b, c = got.rows
    assert a == UrlRow(
        line=2,
        url="https://example.org/a.jpg",
        labels=("cat",),
        source_page="https://example.org/a",
        licence="CC-BY-4.0",
        author="Ann",
        date="2021-03-04",
    )
    assert (b.labels, b.licence, b.author, b.date) == (("cat", "dog"), None, None, "2020")
    assert (c.line, c.labels, c.date) == (5, (), "2019-07-01T10:00:00+00:00")
    assert got.ignored_columns == ("notes",)
    assert got.labels == ["cat", "dog"]


def test_bad_rows_are_reported_with_their_line_and_do_not_hide_good_ones(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text(
        "url,label,date\n"
        "ftp://example.org/a.jpg,cat,\n"  # line 2: scheme
        "https://example.org/ok.jpg,cat,\n"  # line 3: fine
        ",dog,\n"  # line 4: no URL
        "https://example.org/d.jpg,dog,yesterday\n"  # line 5: date
        "https://example.org/e.jpg,dog,,extra\n"  # line 6: too many cells
        "https:///nohost.jpg,dog,\n",  # line 7: no host
    )
    got = parse_url_list(path)

    assert [r.url for r in got.rows] == ["https://example.org/ok.jpg"]
    messages = {e.line: e.message for e in got.errors}
    assert set(messages) == {2, 4, 5, 6, 7}
    assert "not an http(s) URL" in messages[2]
    assert "url" in messages[4]
    assert "'yesterday' is not an ISO 8601 date" in messages[5]
    assert "more cells than header" in messages[6]
    assert "has no host" in messages[7]


def test_jsonl_accepts_label_lists_and_reports_broken_lines(tmp_path: Path) -> None:
    rows = [
        {"url": "https://example.org/a.png", "labels": ["cat", "dog", "cat"], "licence": "CC0"},
        "not json {",
        {"url": "https://example.org/b.png", "label": 3},
        ["a", "list"],
        {"url": "https://example.org/c.png", "source_page": "javascript:alert(1)"},
    ]
    text = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows)
    path = tmp_path / "list.jsonl"
    path.write_text(text + "\n\n")
    got = parse_url_list(path)

    assert [(r.line, r.labels, r.licence) for r in got.rows] == [(1, ("cat", "dog"), "CC0")]
    messages = {e.line: e.message for e in got.errors}
    assert set(messages) == {2, 3, 4, 5}
    assert messages[2].startswith("invalid JSON")
    assert "string" in messages[3]
    assert "not a JSON object" in messages[4]
    assert "source_page" in messages[5]


def test_json_array_tsv_and_plain_text(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps([{"url": "http://example.org/1.jpg"}, 7]))
    (tmp_path / "b.tsv").write_text("url\tlabel\nhttp://example.org/2.jpg\tbird\n")
    (tmp_path / "c.txt").write_text("# comment\nhttp://example.org/3.jpg\n\n")
    got_json = parse_url_list(tmp_path / "a.json")
    assert [r.url for r in got_json.rows] == ["http://example.org/1.jpg"]
    assert got_json.errors[0].line == 2
    assert parse_url_list(tmp_path / "b.tsv").rows[0].labels == ("bird",)
    assert parse_url_list(tmp_path / "c.txt").rows[0].line == 2


def test_unknown_format_and_unreadable_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown URL list format"):
        parse_url_text("x", kind="xml")
    with pytest.raises(ConfigError, match="cannot read URL list"):
        parse_url_list(tmp_path / "missing.csv")


@given(st.lists(st.text(alphabet="abc xyz-_", min_size=0, max_size=8), max_size=6))
def test_labels_are_stripped_unique_and_never_empty(raw: list[str]) -> None:
    row = UrlRow(line=1, url="https://example.org/x.jpg", labels="|".join(raw))
    assert all(label and label == label.strip() for label in row.labels)
    assert len(set(row.labels)) == len(row.labels)
    assert set(row.labels) == {r.strip() for r in raw if r.strip()}
