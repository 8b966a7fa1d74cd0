"""``winnow export --verify DEST``: is a published version complete and intact?

Checks that the version has its ``_MANIFEST.json``, that ``checksums.sha256`` agrees with it,
and that every listed file is there with the listed size and sha256 (by reading it back), and
that nothing unlisted was added. DEST is the export root (newest version, or ``version``) or
a version directory ``<root>/v<X.Y>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sync.export.checksums import CHECKSUMS, MANIFEST, MANIFEST_FORMAT, parse_checksums
from sync.export.targets import Target, check_version, open_target
from winnow.config import Settings

_VERSION_TAIL = re.compile(r"^(.*?)/?v(\d+\.\d+)/?$")


@dataclass
class VerifyReport:
    url: str
    version: str | None
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def split_dest(dest: str) -> tuple[str, str | None]:
    """``(root, version)`` from ``root/v1.2``; ``(dest, None)`` for a root."""
    match = _VERSION_TAIL.match(dest.rstrip("/"))
    return (match.group(1), match.group(2)) if match else (dest, None)


def verify_export(
    dest: str,
    settings: Settings,
    *,
    version: str | None = None,
    advance: Callable[[int], None] | None = None,
) -> VerifyReport:
    root, tail = split_dest(dest)
    version = version or tail
    target = open_target(root, settings)
    published = target.versions()
    if version is None:
        if not published:
            return VerifyReport(root, None, problems=[f"no published version under {root}"])
        version = published[-1]
    check_version(version)
    report = VerifyReport(f"{target.url}/v{version}", version)
    present = target.files(version)
    if version not in published:
        what = f"an unfinished export ({len(present)} files)" if present else "nothing"
        report.problems.append(f"version {version} is not published: no {MANIFEST}, {what}")
        return report
    manifest = json.loads(target.read(version, MANIFEST) or b"{}")
    listed: dict[str, dict] = manifest.get("files", {})
    if manifest.get("format") != MANIFEST_FORMAT:
        report.problems.append(f"{MANIFEST} has format {manifest.get('format')!r}")
    _check_checksums(target, version, listed, report)
    for name in sorted(set(present) - set(listed) - {MANIFEST}):
        report.problems.append(f"{name}: not listed in the manifest")
    _check_files(target, version, listed, present, report, advance)
    return report


def _check_checksums(
    target: Target, version: str, listed: dict[str, dict], report: VerifyReport
) -> None:
    text = target.read(version, CHECKSUMS)
    if text is None:
        report.problems.append(f"{CHECKSUMS} is missing")
        return
    sums = parse_checksums(text.decode())
    for name, info in listed.items():
        if name != CHECKSUMS and sums.get(name) != info["sha256"]:
            report.problems.append(f"{name}: {CHECKSUMS} and {MANIFEST} disagree")
    for name in set(sums) - set(listed):
        report.problems.append(f"{name}: in {CHECKSUMS} but not in {MANIFEST}")


def _check_files(
    target: Target,
    version: str,
    listed: dict[str, dict],
    present: dict[str, int],
    report: VerifyReport,
    advance: Callable[[int], None] | None,
) -> None:
    def check(name: str) -> str | None:
        info = listed[name]
        if name not in present:
            return f"{name}: missing"
        if present[name] != info["size"]:
            return f"{name}: size {present[name]}, expected {info['size']}"
        if target.hash_file(version, name) != info["sha256"]:
            return f"{name}: sha256 does not match (changed or corrupt)"
        return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        for problem in pool.map(check, sorted(listed)):
            report.files_checked += 1
            if problem:
                report.problems.append(problem)
            if advance is not None:
                advance(1)
