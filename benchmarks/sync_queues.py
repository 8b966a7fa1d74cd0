"""`winnow sync` against a real Label Studio: what a full sync, a no-op re-sync and an
incremental sync after a few reviewer edits cost, next to Label Studio's own full JSON export
(which is what a sync would otherwise re-read every time).

1,000 bench JPEGs are imported with `winnow import` (features stored once), then synced with
embeddings off (``--no-embed``), so the numbers are the sync's own work: paging tasks and
annotations, the audit, task writes, predictions and Views. The bench crops of one photo
overlap, so many tasks are flagged and written: a heavy push. Each sync's per-phase times and
Label Studio call counts are printed, with the load average (the machine may be shared).

    python benchmarks/sync_queues.py [--count 1000] [--edits 100] [--work DIR] [--record]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import httpx
from _common import machine_line, record_result
from import_folder import class_folder, label_studio
from label_studio_sdk import LabelStudio as LSClient
from pydantic import SecretStr

from sync.importing.job import ImportOptions, run_import
from sync.review.job import run_sync
from winnow.config import LabelStudioSettings, get_settings
from winnow.labelstudio.label_config import find_label_control


def full_export_s(server, project: int) -> tuple[float, int]:
    started = time.perf_counter()
    response = httpx.get(
        f"{server.url}/api/projects/{project}/export",
        params={"exportType": "JSON"},
        headers=server.auth_headers,
        timeout=600,
    )
    response.raise_for_status()
    return time.perf_counter() - started, len(response.json())


def edit_annotations(server, project: int, n: int) -> None:
    """A reviewer changes ``n`` labels (the first ``n`` tasks get the other class)."""
    client = LSClient(base_url=server.url, api_key=server.api_key, timeout=600)
    labels = find_label_control(client.projects.get(id=project).label_config).labels
    tasks = list(client.tasks.list(project=project, fields="all", page_size=n))[:n]
    for task in tasks:
        annotation = task.annotations[0]
        result = [dict(r) for r in annotation["result"]]
        other = next(x for x in labels if x not in result[0]["value"]["choices"])
        result[0]["value"] = {"choices": [other]}
        client.annotations.update(id=annotation["id"], result=result)


def _line(name: str, summary) -> str:
    p, pushed = summary.pulled, summary.pushed
    phases = ", ".join(
        f"{k} {v.seconds:.1f} s/{v.calls} calls" for k, v in summary.meter.phases.items()
    )
    audit = "audited" if summary.audited else "audit skipped"
    return (
        f"{name}: {summary.seconds:.1f} s: re-read {p.fetched} of {p.total} tasks, {audit}, "
        f"{pushed.tasks_updated} task writes, predictions +{pushed.predictions_created} "
        f"~{pushed.predictions_updated} -{pushed.predictions_deleted}, "
        f"{summary.meter.calls} Label Studio calls ({phases})"
    )


def run(folder: Path, server, work: Path, edits: int) -> list[str]:
    ls = LabelStudioSettings(url=server.url, api_key=SecretStr(server.api_key))
    settings = get_settings(data_dir=work / "winnow-data", label_studio=ls)
    summary = run_import(ImportOptions(str(folder), "sync bench"), settings=settings)
    project = summary.project_id
    first = run_sync(settings, project, embed=False)
    noop = run_sync(settings, project, embed=False)
    edit_annotations(server, project, edits)
    incremental = run_sync(settings, project, embed=False)
    export_s, exported = full_export_s(server, project)
    flagged = first.findings.get("Review: all flagged", 0)
    return [
        f"tasks: {summary.imported} (bench JPEGs, class folders), Label Studio 1.23 on SQLite, "
        f"embeddings off, {settings.sync.write_concurrency} writes in flight; {flagged} flagged",
        _line("first sync", first),
        _line("no-op re-sync", noop),
        _line(f"after {edits} label edits", incremental),
        f"Label Studio full JSON export for comparison: {export_s:.1f} s for {exported} tasks; "
        f"first sync = {first.seconds / export_s:.0f}x the export",
        f"load average at the end: {os.getloadavg()[0]:.1f} (the machine was shared with other "
        "jobs: absolute times are pessimistic)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        files_root = work / "files"
        folder = class_folder(files_root, args.count)
        server = label_studio(work, files_root).start()
        try:
            lines = run(folder, server, work, args.edits)
        finally:
            server.stop()
    for line in lines:
        print(line)
    if args.record:
        record_result("winnow sync", [machine_line(), *lines])


if __name__ == "__main__":
    main()
