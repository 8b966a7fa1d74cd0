"""Import throughput: 1,000 local images into a real Label Studio, side by side with the two
ways people do it without Winnow.

- ``winnow import`` (cold): features computed (sha256, decode checks, hashes, quality), tasks
  with provenance and the class-folder labels as annotations, in bulk.
- ``winnow import`` again into the same project: the idempotent no-op re-run.
- ``winnow import`` into a new project with the features already stored: the Label Studio
  side alone.
- Label Studio's own local storage sync of the same folder: tasks only (no labels, no
  checks, no dedup), Label Studio scanning the disk itself.
- A naive SDK loop: one ``tasks.create`` and one ``annotations.create`` per image, the way a
  quick script does it (run on ``--naive-limit`` images and reported per image).

Label Studio is started here from its virtualenv (``$WINNOW_LS_VENV`` or the newest one
under ~/.cache/winnow) on a copy of the migrated template, as the test fixtures do.

    python benchmarks/import_folder.py [--count 1000] [--work DIR] [--record]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _common import machine_line, record_result
from label_studio_sdk import LabelStudio as LSClient
from pydantic import SecretStr

from sync.importing.job import ImportOptions, run_import
from winnow.config import LabelStudioSettings, get_settings
from winnow.labelstudio.label_config import build_label_config
from winnow.samples import build_bench
from winnow.services import LabelStudio
from winnow.services.label_studio import installed_version

CACHE = Path.home() / ".cache" / "winnow"


def class_folder(root: Path, count: int) -> Path:
    """``count`` bench JPEGs sorted into one folder per source photo (a class/ layout)."""
    folder = root / f"bench-{count}"
    if folder.is_dir() and sum(1 for _ in folder.rglob("*.jpg")) == count:
        return folder
    flat = root / f"flat-{count}"
    build_bench(flat, count=count)
    for path in sorted(flat.glob("*.jpg")):
        label = path.stem.split("_", 1)[1]
        (folder / label).mkdir(parents=True, exist_ok=True)
        path.rename(folder / label / path.name)
    flat.rmdir()
    return folder


def label_studio(work: Path, files_root: Path) -> LabelStudio:
    """A Label Studio (not started) whose document root is ``files_root``."""
    configured = os.environ.get("WINNOW_LS_VENV")
    venvs = [Path(configured)] if configured else sorted(CACHE.glob("venv-label-studio-*"))
    if not venvs:
        raise SystemExit("no Label Studio virtualenv: run `make label-studio`")
    venv = venvs[-1]
    template = LabelStudio.migrated_template(
        CACHE / f"ls-template-{installed_version(venv)}", venv=venv
    )
    return LabelStudio(work / "label-studio", venv=venv, files_root=files_root, template=template)


def naive_loop(client: LSClient, folder: Path, files_root: Path, limit: int) -> float:
    """Seconds per image for per-task create + annotate calls (after a storage exists)."""
    labels = sorted(p.name for p in folder.iterdir() if p.is_dir())
    project = client.projects.create(title="naive loop", label_config=build_label_config(labels))
    client.import_storage.local.create(project=project.id, path=str(folder), use_blob_urls=True)
    paths = sorted(folder.rglob("*.jpg"))[:limit]
    started = time.perf_counter()
    for path in paths:
        rel = path.relative_to(files_root).as_posix()
        task = client.tasks.create(
            project=project.id, data={"image": f"/data/local-files/?d={rel}"}
        )
        result = [
            {
                "from_name": "label",
                "to_name": "image",
                "type": "choices",
                "value": {"choices": [path.parent.name]},
            }
        ]
        client.annotations.create(id=task.id, result=result)
    return (time.perf_counter() - started) / len(paths)


def storage_sync(client: LSClient, folder: Path) -> tuple[float, int]:
    """Seconds for Label Studio's own local storage sync, and the tasks it made."""
    project = client.projects.create(title="storage sync", label_config=build_label_config(["x"]))
    storage = client.import_storage.local.create(
        project=project.id,
        path=str(folder),
        use_blob_urls=True,
        recursive_scan=True,
        regex_filter=r".*\.jpg",
    )
    started = time.perf_counter()
    client.import_storage.local.sync(id=storage.id)
    deadline = started + 600
    while time.perf_counter() < deadline:
        status = client.import_storage.local.get(id=storage.id).status
        if status in ("completed", "failed"):
            break
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    return seconds, client.projects.get(id=project.id).task_number or 0


def run(folder: Path, server: LabelStudio, work: Path, naive_limit: int) -> list[str]:
    count = sum(1 for _ in folder.rglob("*.jpg"))
    ls = LabelStudioSettings(url=server.url, api_key=SecretStr(server.api_key))
    settings = get_settings(data_dir=work / "winnow-data", label_studio=ls)
    cold = run_import(ImportOptions(str(folder), "winnow cold"), settings=settings)
    again = run_import(ImportOptions(str(folder), "winnow cold"), settings=settings)
    warm = run_import(ImportOptions(str(folder), "winnow warm store"), settings=settings)
    client = LSClient(base_url=server.url, api_key=server.api_key, timeout=600)
    sync_s, sync_tasks = storage_sync(client, folder)
    naive_per_image = naive_loop(client, folder, server.files_root, naive_limit)
    assert cold.imported == warm.imported == count and again.imported == 0
    rate = lambda s: count / s  # noqa: E731
    return [
        f"images: {count} real-content JPEGs (~0.8 Mpx) in {len(list(folder.iterdir()))} "
        "class folders, Label Studio 1.23 on SQLite, same machine",
        f"winnow import, cold: {rate(cold.seconds['total']):.1f} img/s "
        f"({cold.seconds['total']:.1f} s: features {cold.seconds['features']:.1f} s, "
        f"Label Studio calls {cold.seconds['label_studio']:.1f} s); "
        f"{cold.imported} tasks + {cold.annotations} annotations",
        f"winnow import, re-run (no-op): {again.seconds['total']:.2f} s, "
        f"{again.skipped_by_reason['already_imported']} already imported",
        f"winnow import, features already stored: {rate(warm.seconds['total']):.1f} img/s "
        f"({warm.seconds['total']:.1f} s: features {warm.seconds['features']:.1f} s, "
        f"Label Studio calls {warm.seconds['label_studio']:.1f} s)",
        f"Label Studio local storage sync (tasks only, no labels or checks): "
        f"{sync_tasks / sync_s:.1f} img/s ({sync_s:.1f} s, {sync_tasks} tasks)",
        f"naive SDK loop (create + annotate per image, {naive_limit} images): "
        f"{1 / naive_per_image:.1f} img/s ({naive_per_image * 1000:.0f} ms/image)",
        f"ratio winnow cold / naive loop: {rate(cold.seconds['total']) * naive_per_image:.1f}x",
        machine_line(),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--work", type=Path, help="keep images and servers' data here")
    parser.add_argument("--naive-limit", type=int, default=200)
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="winnow-import-bench-") as tmp:
        work = (args.work or Path(tmp)).resolve()
        files_root = work / "files"
        folder = class_folder(files_root, args.count)
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work))
        with label_studio(run_dir, files_root) as server:  # started here, stopped on exit
            lines = run(folder, server, run_dir, args.naive_limit)
    print("\n".join(lines))
    if args.record:
        record_result("Import a class folder into Label Studio", lines)


if __name__ == "__main__":
    main()
