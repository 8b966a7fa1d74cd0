"""A real ``winnow serve`` process for the attacks on the similarity API, and the attackers.

The index is built here (real photos, embedded by the real ImageNet backbone, in a Qdrant
Edge shard), closed, and then opened by the server, as ``winnow index`` and ``winnow serve``
do. The server runs in its own process group on 127.0.0.1; its RSS and its spool files are
read from ``/proc``, and an attacker on a raw socket counts the bytes the server's side took.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image, ImageOps
from skimage import data

from winnow.config import Settings
from winnow.index import IndexPoint, open_index
from winnow.services.process import free_port, http_status, spawn, stop_process, wait_until

PROJECT = 7
PHOTOS = {"cat": "chelsea", "espresso": "coffee", "space shuttle": "rocket"}
# `winnow serve` with one index call slowed down, as a remote Qdrant under load would be
SLOW_INDEX_SERVE = """
import sys, time
from winnow.index.edge import EdgeIndex
delay = float(sys.argv.pop(1))
original = EdgeIndex.search
def slow_search(*args, **kwargs):
    time.sleep(delay)
    return original(*args, **kwargs)
EdgeIndex.search = slow_search
from winnow.cli.app import main
sys.argv[0] = "winnow"
main()
"""


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def build_index(data_dir: Path, predictor) -> Path:
    """Task ids 1..9 of project 7 (three photos, three variants each); returns the image dir."""
    images_dir = data_dir / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    embedder = predictor.feature_model.backbone
    points, task = [], 1
    for label, name in PHOTOS.items():
        photo = Image.fromarray(getattr(data, name)()).convert("RGB")
        w, h = photo.size
        images = [photo, ImageOps.mirror(photo), photo.crop((w // 10, h // 10, w, h))]
        for image, vector in zip(images, embedder.embed_images(images), strict=True):
            body = jpeg(image)
            sha = hashlib.sha256(body).hexdigest()
            path = images_dir / f"{sha}.jpg"
            path.write_bytes(body)
            payload = {
                "sha256": sha,
                "task_id": task,
                "task_ids": [task],
                "labels": [label],
                "split": "train",
                "flags": [],
                "url": str(path),
                "project": PROJECT,
            }
            points.append(IndexPoint(sha, vector, payload))
            task += 1
    index = open_index(Settings(data_dir=data_dir))
    index.upsert(points)
    index.close()
    return images_dir


@dataclass
class ApiServer:
    proc: subprocess.Popen
    port: int
    log_path: Path
    spool_dir: Path
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = f"http://127.0.0.1:{self.port}"

    def client(self, key: str | None = None, **kwargs) -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, trust_env=False, **kwargs)

    def rss(self) -> int:
        """Resident memory of the server process, in bytes."""
        return _status_kb(self.proc.pid, "VmRSS") * 1024

    def spooled(self) -> int:
        """Bytes in the temporary files the server holds open (multipart spools)."""
        total = 0
        for fd in Path(f"/proc/{self.proc.pid}/fd").iterdir():
            try:
                if os.readlink(fd).startswith(str(self.spool_dir)):
                    total += fd.stat().st_size
            except OSError:  # closed while we looked
                continue
        return total

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _status_kb(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise LookupError(name)


@contextmanager
def running_api(
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    slow_index_s: float | None = None,
    ready: bool = True,
) -> Iterator[ApiServer]:
    """``winnow serve`` over ``data_dir``; waits for /readyz (or /healthz if not ``ready``)."""
    port, spool_dir = free_port(), data_dir / "spool"
    spool_dir.mkdir(exist_ok=True)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("WINNOW_")}
    child_env.update(
        TMPDIR=str(spool_dir),
        WINNOW_DATA_DIR=str(data_dir),
        WINNOW_EMBEDDING__KIND="backbone",
        WINNOW_SERVE__PROJECT=str(PROJECT),
        WINNOW_IO__LOCAL_ROOTS=json.dumps([str(data_dir / "images")]),
        **(env or {}),
    )
    command = [sys.executable, "-m", "winnow", "serve", "--port", str(port)]
    if slow_index_s is not None:
        command = [sys.executable, "-c", SLOW_INDEX_SERVE, str(slow_index_s), *command[3:]]
    log_path = data_dir / f"serve-{port}.log"
    proc = spawn(command, env=child_env, log_path=log_path, cwd=data_dir)
    server = ApiServer(proc, port, log_path, spool_dir)
    probe = "/readyz" if ready else "/healthz"

    def alive() -> None:
        if proc.poll() is not None:
            raise RuntimeError(f"winnow serve exited:\n{server.log()[-3000:]}")

    try:
        if not wait_until(
            lambda: http_status(server.url + probe) == 200, timeout_s=240, alive=alive
        ):
            raise RuntimeError(f"winnow serve not ready:\n{server.log()[-3000:]}")
        yield server
    finally:
        stop_process(proc)


@dataclass
class Attack:
    """What a raw-socket upload achieved: the bytes the server side took, and its answer."""

    sent: int
    status: int | None
    response: bytes
    seconds: float


def stream_upload(
    port: int,
    *,
    key: str | None,
    total: int,
    path: str = "/v1/search/image",
    chunked: bool = False,
    declared_length: int | None = None,
    body_limit: int | None = None,
    timeout_s: float = 60.0,
) -> Attack:
    """POST a multipart upload of ``total`` bytes as fast as the server takes them.

    ``sent`` counts what the kernel accepted from us: everything the server read, plus what
    sits in the two socket buffers (the client's is kept at 64 KiB). The attacker stops when
    the server answers or closes. ``body_limit`` caps what is sent (0: headers only).
    """
    boundary = "winnowattack"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode() + b"\xff\xd8\xff\xe0"
    headers = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Type: multipart/form-data; boundary={boundary}",
    ]
    if key is not None:
        headers.append(f"X-API-Key: {key}")
    if chunked:
        headers.append("Transfer-Encoding: chunked")
    else:
        headers.append(f"Content-Length: {declared_length or total}")
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
    started, sent, answered = time.monotonic(), 0, False
    chunk = b"\x00" * (64 * 1024)
    limit = total if body_limit is None else body_limit
    pending = b""
    try:
        while time.monotonic() - started < timeout_s:
            readable, writable, _ = select.select([sock], [sock] if sent < limit else [], [], 1)
            if readable:
                answered = True
                break
            if not writable:
                continue
            if not pending:
                piece = head if sent == 0 else chunk[: limit - sent]
                pending = f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
            n = sock.send(pending)
            pending, sent = pending[n:], sent + n
    except OSError:  # reset or broken pipe: the server cut us off
        pass
    response = _read_response(sock) if answered or sent else b""
    seconds = time.monotonic() - started
    sock.close()
    status = int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else None
    return Attack(sent, status, response, seconds)


def _read_response(sock: socket.socket) -> bytes:
    sock.settimeout(5)
    out = b""
    try:
        while piece := sock.recv(65536):
            out += piece
            if b"\r\n\r\n" in out and _complete(out):
                break
    except OSError:
        pass
    return out


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


class PeakSampler:
    """Samples a value in a thread (every 10 ms) while the ``with`` block runs: ``start`` and
    ``peak``."""

    def __init__(self, read) -> None:
        self.read, self.start, self.peak, self._stop = read, 0, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.read())
            time.sleep(0.01)

    def __enter__(self) -> PeakSampler:
        self.start = self.peak = self.read()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
