"""`winnow sync` against a real Label Studio: what a full sync, a no-op re-sync and an
incremental sync after a few reviewer edits cost, next to Label Studio's own full JSON export
(which is what a sync would otherwise re-read every time), with the process's peak memory.

Real mode (default): ``--count`` bench JPEGs are imported with `winnow import` (features
stored once), then synced (embeddings off unless ``--embed``). The bench crops of one photo
overlap, so many tasks are flagged and written: a heavy push. ``--source fashion-mnist`` uses
the first ``--count`` Fashion-MNIST training images instead (real photos of clothes with their
real labels, few duplicates: a project where label issues are most of what is flagged).
After ``--edits`` label edits the sync rescores label issues on the last fit (or refits
them past ``sync.label_refit_share``); the same number of edits is then made again with the
stored audit parts and the label probe dropped, which is what the sync did before audits
were incremental (the whole audit, with a refit).

Synthetic mode (``--synthetic N``): ``N`` tasks that point at the ``--count`` real images
(content cached by sha256, so this measures the sync, not the embedder), bulk imported
through Label Studio's import API in chunks (timed). Each image's own label is dismissed for
every issue beforehand, and 10% of the tasks carry another label, so about 10% are flagged
and written, the issue's goal case. Reports pull, push, no-op re-sync and after-edits.

``--concurrency 1,4,8``: push rate (task PATCHes a second) at each write concurrency, each on a
fresh synthetic project of ``--rate-tasks`` tasks. ``--postgres``: Label Studio on PostgreSQL
instead of SQLite (a fresh, migrated-on-start database).

    python benchmarks/sync_queues.py [--count 1000] [--edits 100] [--embed]
        [--source bench|fashion-mnist]
        [--synthetic N] [--concurrency 1,4,8] [--rate-tasks 2000] [--postgres]
        [--work DIR] [--record]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from _common import machine_line, record_result
from import_folder import CACHE, class_folder, label_studio
from label_studio_sdk import LabelStudio as LSClient
from PIL import Image
from pydantic import SecretStr

from analysis.audit import ISSUE_TYPES
from sync.importing.job import ImportOptions, run_import
from sync.review.job import peak_memory_mb, run_sync
from sync.review.label_refit import probe_path
from sync.review.state import SyncState, state_path
from winnow.config import LabelStudioSettings, get_settings
from winnow.datasets import load_fashion_mnist
from winnow.labelstudio.label_config import find_label_control
from winnow.services import LabelStudio
from winnow.services.label_studio import installed_version

CHUNK = 5000  # tasks per bulk import call


def full_export_s(server, project: int) -> tuple[float, int]:
    started = time.perf_counter()
    response = httpx.get(
        f"{server.url}/api/projects/{project}/export",
        params={"exportType": "JSON"},
        headers=server.auth_headers,
        timeout=1800,
    )
    response.raise_for_status()
    return time.perf_counter() - started, len(response.json())


def edit_annotations(server, project: int, n: int, *, skip: int = 0) -> None:
    """A reviewer changes ``n`` labels (tasks ``skip`` to ``skip + n`` get another class)."""
    client = LSClient(base_url=server.url, api_key=server.api_key, timeout=600)
    labels = find_label_control(client.projects.get(id=project).label_config).labels
    tasks = list(client.tasks.list(project=project, fields="all", page_size=skip + n))
    for task in tasks[skip : skip + n]:
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
    audit = f"audit: {summary.audit_work}" if summary.audited else "audit skipped"
    push = "; ".join(
        f"{method} {m.calls} in {m.seconds:.1f} s" for method, m in summary.meter.slowest("push")
    )
    return (
        f"{name}: {summary.seconds:.1f} s: re-read {p.fetched} of {p.total} tasks, {audit}, "
        f"{pushed.tasks_updated} task writes, predictions +{pushed.predictions_created} "
        f"~{pushed.predictions_updated} -{pushed.predictions_deleted}, "
        f"{summary.meter.calls} Label Studio calls ({phases}; push requests, seconds summed "
        f"over writes in flight: {push or 'none'}); peak memory {summary.peak_mb:.0f} MB"
    )


def fashion_folder(root: Path, count: int) -> Path:
    """The first ``count`` Fashion-MNIST training images as PNGs, one folder per class."""
    folder = root / f"fashion-{count}"
    if folder.is_dir() and sum(1 for _ in folder.rglob("*.png")) == count:
        return folder
    images, labels, classes = load_fashion_mnist("train", limit=count)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        target = folder / classes[label].replace(" ", "-").replace("/", "-")
        target.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(target / f"{i:05d}.png")
    return folder


def _settings(server, work: Path, **sync):
    ls = LabelStudioSettings(url=server.url, api_key=SecretStr(server.api_key))
    settings = get_settings(data_dir=work / "winnow-data", label_studio=ls)
    return settings.model_copy(update={"sync": settings.sync.model_copy(update=sync)})


def run_real(folder: Path, server, work: Path, edits: int, embed: bool) -> list[str]:
    settings = _settings(server, work)
    options = ImportOptions(str(folder), "sync bench", embed=embed)
    started = time.perf_counter()
    summary = run_import(options, settings=settings)
    print(f"winnow import of {summary.imported} images: {time.perf_counter() - started:.1f} s")
    project = summary.project_id
    runs = []

    def sync(name: str):
        result = run_sync(settings, project, embed=embed)
        runs.append(_line(name, result))
        print(runs[-1], flush=True)  # long runs: each result as it comes
        return result

    first = sync("first sync")
    sync("no-op re-sync")
    edit_annotations(server, project, edits)
    sync(f"after {edits} label edits (incremental audit)")
    with SyncState(state_path(settings.data_dir)) as state:  # the audit as it was: whole
        for part in ("content", "labels"):
            state.put(f"audit_part:{project}:{part}", "null")
    probe_path(settings.data_dir, project).unlink(missing_ok=True)  # and a label refit
    edit_annotations(server, project, edits, skip=edits)
    sync(f"after {edits} more label edits, whole audit (as before)")
    export_s, exported = full_export_s(server, project)
    flagged = first.findings.get("Review: all flagged", 0)
    return [
        f"tasks: {summary.imported} ({folder.name}: real images in class folders), Label Studio "
        f"1.23 on {_db(server)}, embeddings {'on' if embed else 'off'}, "
        f"{settings.sync.write_concurrency} writes in flight; {flagged} flagged",
        *runs,
        f"Label Studio full JSON export for comparison: {export_s:.1f} s for {exported} tasks; "
        f"first sync = {first.seconds / export_s:.1f}x the export",
    ]


def seed_project(server, settings, folder: Path) -> tuple[str, list[dict]]:
    """`winnow import` of the real images once: their label config and (image, sha256, label)
    as synthetic tasks will point at them."""
    summary = run_import(ImportOptions(str(folder), "sync bench seed"), settings=settings)
    client = LSClient(base_url=server.url, api_key=server.api_key, timeout=600)
    config = client.projects.get(id=summary.project_id).label_config
    seeds = []
    for task in client.tasks.list(project=summary.project_id, fields="all", page_size=1000):
        result = task.annotations[0]["result"]
        seeds.append({"data": dict(task.data), "result": result})
    return config, seeds


def synthetic_project(
    server, settings, config: str, seeds: list[dict], n: int, title: str
) -> tuple[int, float]:
    """A project of ``n`` tasks cycling over ``seeds``; 10% with another label. Each seed's
    own label is dismissed for every issue, so those 10% are what gets flagged. Returns the
    project id and the bulk import's seconds."""
    client = LSClient(base_url=server.url, api_key=server.api_key, timeout=1800)
    project = client.projects.create(title=title, label_config=config).id
    labels = find_label_control(config).labels
    rng = random.Random(0)
    with SyncState(state_path(settings.data_dir)) as state:
        for seed in seeds:
            label = seed["result"][0]["value"]["choices"][0]
            sha = seed["data"]["winnow_sha256"]
            for issue in ISSUE_TYPES:
                state.dismiss(sha, label, issue, by="bench", at=None)
            state.dismiss(sha, "", "pii", by="bench", at=None)  # PII findings carry no label
    started = time.perf_counter()
    for start in range(0, n, CHUNK):
        chunk = []
        for i in range(start, min(n, start + CHUNK)):
            seed = seeds[i % len(seeds)]
            result = [dict(r) for r in seed["result"]]
            if rng.random() < 0.1:
                given = result[0]["value"]["choices"][0]
                result[0] = {
                    **result[0],
                    "value": {"choices": [next(x for x in labels if x != given)]},
                }
            chunk.append({"data": seed["data"], "annotations": [{"result": result}]})
        client.projects.import_tasks(id=project, request=chunk, commit_to_project=True)
    return project, time.perf_counter() - started


def run_synthetic(folder: Path, server, work: Path, n: int, edits: int) -> list[str]:
    settings = _settings(server, work)
    config, seeds = seed_project(server, settings, folder)
    project, import_s = synthetic_project(server, settings, config, seeds, n, "sync synthetic")
    print(f"bulk import of {n} tasks: {import_s:.1f} s", flush=True)
    first = run_sync(settings, project, embed=False)
    print(_line("first sync", first), flush=True)  # long runs: each result as it comes
    noop = run_sync(settings, project, embed=False)
    print(_line("no-op re-sync", noop), flush=True)
    edit_annotations(server, project, edits)
    incremental = run_sync(settings, project, embed=False)
    print(_line(f"after {edits} label edits", incremental), flush=True)
    export_s, exported = full_export_s(server, project)
    with SyncState(state_path(settings.data_dir)) as state:
        kinds = Counter(f.issue_type for f in state.findings(project))
    push = first.meter.phases["push"]
    pull = first.meter.phases["pull"]
    return [
        f"synthetic: {n} tasks over {len(seeds)} real images, Label Studio 1.23 on "
        f"{_db(server)}, embeddings off, {settings.sync.write_concurrency} writes in flight",
        f"open findings by type: {dict(kinds.most_common())}",
        f"bulk import into Label Studio ({CHUNK} tasks a call): {import_s:.1f} s "
        f"({n / import_s:.0f} tasks/s)",
        _line("first sync", first),
        f"  pull {n / pull.seconds:.0f} tasks/s; push {first.pushed.tasks_updated} writes in "
        f"{push.seconds:.1f} s = {first.pushed.tasks_updated / max(push.seconds, 1e-9):.1f}/s",
        _line("no-op re-sync", noop),
        _line(f"after {edits} label edits", incremental),
        f"Label Studio full JSON export for comparison: {export_s:.1f} s for {exported} tasks; "
        f"first sync = {first.seconds / export_s:.1f}x the export; "
        f"benchmark process peak memory {peak_memory_mb():.0f} MB",
    ]


def run_rates(folder: Path, servers: list, work: Path, n: int, levels: list[int]) -> list[str]:
    """Push rate at each write concurrency on each server, interleaved so that both
    databases see the same load; each on a fresh synthetic project."""
    seeded = []
    for i, server in enumerate(servers):
        settings = _settings(server, work / f"rates-{i}")
        seeded.append((server, settings, *seed_project(server, settings, folder)))
    lines = []
    for level in levels:
        for server, settings, config, seeds in seeded:
            s = settings.model_copy(
                update={"sync": settings.sync.model_copy(update={"write_concurrency": level})}
            )
            project, _ = synthetic_project(server, s, config, seeds, n, f"rate {level}")
            summary = run_sync(s, project, embed=False)
            push = summary.meter.phases["push"]
            writes = summary.pushed.tasks_updated
            lines.append(
                f"{_db(server)}, write_concurrency {level}: {writes} task PATCHes in "
                f"{push.seconds:.1f} s = {writes / max(push.seconds, 1e-9):.1f}/s "
                f"({push.calls} calls in the push phase; load {os.getloadavg()[0]:.1f})"
            )
            print(lines[-1], flush=True)
    return lines


def _db(server) -> str:
    return "PostgreSQL" if server.postgres is not None else "SQLite"


def _server(work: Path, files_root: Path, postgres):
    if postgres is None:
        return label_studio(work, files_root)
    venv = Path(os.environ.get("WINNOW_LS_VENV") or sorted(CACHE.glob("venv-label-studio-*"))[-1])
    installed_version(venv)
    return LabelStudio(
        work / "label-studio", venv=venv, files_root=files_root, postgres=postgres.database
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="real images")
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--embed", action="store_true", help="real mode: embeddings on")
    parser.add_argument("--source", choices=("bench", "fashion-mnist"), default="bench")
    parser.add_argument("--synthetic", type=int, default=0, help="synthetic tasks")
    parser.add_argument("--concurrency", default="", help="e.g. 1,4,8: push rate per level")
    parser.add_argument("--rate-tasks", type=int, default=2000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        files_root = work / "files"
        if args.source == "fashion-mnist":
            folder = fashion_folder(files_root, args.count)
        else:
            folder = class_folder(files_root, args.count)
        postgres = None
        if args.postgres:
            from winnow.services.postgres import PostgreSQL

            postgres = PostgreSQL(database="labelstudio").start()
        servers = []
        try:
            if args.concurrency:  # SQLite, and PostgreSQL beside it with --postgres
                servers.append(_server(work / "sqlite", files_root, None).start())
                if postgres is not None:
                    servers.append(_server(work / "pg", files_root, postgres).start())
                levels = [int(x) for x in args.concurrency.split(",")]
                lines += run_rates(folder, servers, work, args.rate_tasks, levels)
            else:
                servers.append(_server(work, files_root, postgres).start())
                if args.synthetic:
                    lines += run_synthetic(folder, servers[0], work, args.synthetic, args.edits)
                else:
                    lines += run_real(folder, servers[0], work, args.edits, args.embed)
        finally:
            for server in servers:
                server.stop()
            if postgres is not None:
                postgres.stop()
    lines.append(
        f"load average at the end: {os.getloadavg()[0]:.1f} (shared, loaded machine: "
        "absolute times are pessimistic)"
    )
    for line in lines:
        print(line, flush=True)
    if args.record:
        record_result("winnow sync", [machine_line(), *lines])


if __name__ == "__main__":
    main()
