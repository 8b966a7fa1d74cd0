"""A real Label Studio server on loopback, from its own virtualenv, with SQLite or PostgreSQL.

A cold start spends most of its time on database migrations, so :meth:`LabelStudio.
migrated_template` builds a migrated data directory once and later starts copy it.
Label Studio applies ``LABEL_STUDIO_USER_TOKEN`` only when it creates the admin user, so a
copied (or reused) database would keep the old token: before each such start the token in
the database is re-set to this instance's ``api_key``, and the password recorded beside the
database is reused because the one in the database cannot be changed from outside.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import ipaddress
import json
import os
import secrets
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path

from winnow.config import child_env
from winnow.errors import ServiceError
from winnow.services.postgres import PostgresDatabase
from winnow.services.process import LOOPBACK, Service, free_port, http_status

DEFAULT_USERNAME = "admin@example.com"
DB_NAME = "label_studio.sqlite3"
# Written beside the database: who the admin is, because the database keeps the first one.
CREDENTIALS_FILE = "winnow-credentials.json"
_INHERITED_PREFIXES = ("LABEL_STUDIO_", "HEARTEX_")
# Label Studio 1.23's own list of networks its SSRF guard refuses (``validate_ip`` in
# label_studio/core/utils/io.py). It has no allow-list, only this list and an extra one, so
# :func:`ssrf_env` turns the defaults off and hands back this list minus what is allowed.
LABEL_STUDIO_BANNED_SUBNETS = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "233.252.0.0/24",
    "240.0.0.0/4", "255.255.255.255/32", "::/128", "::1/128", "::ffff:0:0/96",
    "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001:0000::/32",
    "2001:20::/28", "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "ff00::/8",
)  # fmt: skip
# The local stack runs the ML backend, the API and S3 on this one address.
LOCAL_SSRF_ALLOWED = ("127.0.0.1/32",)


def banned_subnets(allowed: Iterable[str]) -> list[str]:
    """Label Studio's banned networks with the ``allowed`` networks cut out of them."""
    allow = [ipaddress.ip_network(a, strict=False) for a in allowed]
    result: list[str] = []
    for subnet in LABEL_STUDIO_BANNED_SUBNETS:
        pieces = [ipaddress.ip_network(subnet)]
        for hole in allow:
            pieces = [rest for piece in pieces for rest in _cut(piece, hole)]
        result += [str(p) for p in sorted(pieces)]
    return result


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _cut(network: Network, hole: Network) -> list[Network]:
    if network.version != hole.version or not network.overlaps(hole):
        return [network]
    if network.subnet_of(hole):  # type: ignore[arg-type]
        return []
    return list(network.address_exclude(hole))  # type: ignore[arg-type]


def ssrf_env(allowed: Iterable[str]) -> dict[str, str]:
    """Label Studio variables that keep its SSRF guard on (URL imports, webhooks, storage
    endpoints and the ML backend) and let through only the ``allowed`` networks."""
    return {
        "LABEL_STUDIO_SSRF_PROTECTION_ENABLED": "true",
        "LABEL_STUDIO_ML_BLOCK_LOCAL_IP": "true",
        "LABEL_STUDIO_USE_DEFAULT_BANNED_SUBNETS": "false",
        "LABEL_STUDIO_USER_ADDITIONAL_BANNED_SUBNETS": ",".join(banned_subnets(allowed)),
    }


def installed_version(venv: Path) -> str:
    """Version of the ``label-studio`` package installed in ``venv``."""
    for site in sorted(Path(venv).glob("lib/python3*/site-packages")):
        for dist in importlib.metadata.distributions(path=[str(site)]):
            if dist.metadata["Name"] == "label-studio":
                return dist.version
    raise ServiceError(f"label-studio is not installed in {venv}; run `make label-studio`")


def set_api_token(db_path: Path, username: str, token: str) -> None:
    """Make ``token`` the legacy API token of ``username`` in a stopped server's database."""
    with sqlite3.connect(db_path) as db:
        updated = db.execute(
            "UPDATE authtoken_token SET key = ? "
            "WHERE user_id = (SELECT id FROM htx_user WHERE email = ?)",
            (token, username),
        ).rowcount
    db.close()
    if updated != 1:
        raise ServiceError(f"{db_path} has no API token for user {username!r}")


class LabelStudio(Service):
    """Label Studio with one admin user whose legacy API token is ``api_key``.

    Local files under ``files_root`` are served at ``/data/local-files/?d=<relative path>``.
    If ``template`` names a migrated data directory and ``data_dir`` has no database yet,
    the template is copied in first. With ``postgres`` the database is that PostgreSQL one
    (fresh: it is migrated on first start, and a template does not apply). Its SSRF guard
    stays on; ``ssrf_allowed`` names the only private networks it may reach (by default
    127.0.0.1, where the local ML backend, API and S3 listen).
    """

    name = "Label Studio"
    startup_timeout_s = 300.0
    poll_interval_s = 0.5

    def __init__(
        self,
        data_dir: Path,
        *,
        venv: Path,
        files_root: Path,
        port: int | None = None,
        token: str | None = None,
        template: Path | None = None,
        username: str = DEFAULT_USERNAME,
        log_path: Path | None = None,
        postgres: PostgresDatabase | None = None,
        ssrf_allowed: Iterable[str] = LOCAL_SSRF_ALLOWED,
    ) -> None:
        if postgres is not None and template is not None:
            raise ValueError("a migrated template is a SQLite database; omit it with postgres")
        self.postgres = postgres
        self.ssrf_allowed = tuple(ssrf_allowed)
        self.data_dir = Path(data_dir)
        self.venv = Path(venv)
        self.files_root = Path(files_root)
        self.template = Path(template) if template is not None else None
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.api_key = token or secrets.token_hex(20)
        self.username = username
        self.password = secrets.token_urlsafe(16)
        super().__init__(log_path or self.data_dir / "label-studio.log")

    @property
    def binary(self) -> Path:
        return self.venv / "bin" / "label-studio"

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.api_key}"}

    def _prepare(self) -> None:
        if not self.binary.is_file():
            raise ServiceError(f"no {self.binary}; build the virtualenv with `make label-studio`")
        self.files_root.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        db_path = self.data_dir / DB_NAME
        if not db_path.exists() and self.template is not None:
            shutil.copytree(self.template, self.data_dir, dirs_exist_ok=True)
        if db_path.exists():
            self._adopt_existing(db_path)
        self._write_credentials()

    def _adopt_existing(self, db_path: Path) -> None:
        """Reuse the admin recorded with an existing database and give it our token."""
        recorded = self.data_dir / CREDENTIALS_FILE
        if recorded.is_file():
            creds = json.loads(recorded.read_text(encoding="utf-8"))
            self.username, self.password = creds["username"], creds["password"]
        set_api_token(db_path, self.username, self.api_key)

    def _write_credentials(self) -> None:
        path = self.data_dir / CREDENTIALS_FILE
        text = json.dumps({"username": self.username, "password": self.password})
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)

    def _command(self) -> list[str]:
        return [
            str(self.binary),
            "start",
            "--no-browser",
            "--internal-host",
            LOOPBACK,
            "-p",
            str(self.port),
        ]

    def _env(self) -> dict[str, str]:
        env = child_env(drop=_INHERITED_PREFIXES)
        env.update(self.postgres.label_studio_env() if self.postgres else {"DJANGO_DB": "sqlite"})
        env.update(
            LABEL_STUDIO_BASE_DATA_DIR=str(self.data_dir),
            LABEL_STUDIO_USERNAME=self.username,
            LABEL_STUDIO_PASSWORD=self.password,
            LABEL_STUDIO_USER_TOKEN=self.api_key,
            LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
            LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED="true",
            LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(self.files_root),
            **ssrf_env(self.ssrf_allowed),
            COLLECT_ANALYTICS="false",
            LATEST_VERSION_CHECK="false",
            SENTRY_DSN="",
            FRONTEND_SENTRY_DSN="",
        )
        return env

    def _is_ready(self) -> bool:
        """Ready when /health answers and the API accepts our token."""
        if http_status(f"{self.url}/health") != 200:
            return False
        status = http_status(f"{self.url}/api/projects", headers=self.auth_headers)
        if status in (401, 403):
            raise self.error(f"Label Studio is up but refuses the API token (HTTP {status})")
        return status == 200

    @classmethod
    def migrated_template(cls, cache_dir: Path, *, venv: Path) -> Path:
        """Build (once) a migrated data directory at ``cache_dir`` and return it.

        A lock file beside ``cache_dir`` lets parallel sessions wait for one build; the
        directory appears by an atomic rename, so it is never seen half-built.
        """
        cache_dir = Path(cache_dir)
        if (cache_dir / DB_NAME).is_file():
            return cache_dir
        cache_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(cache_dir.with_name(cache_dir.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (cache_dir / DB_NAME).is_file():
                cls._build_template(cache_dir, venv=Path(venv))
        return cache_dir

    @classmethod
    def _build_template(cls, cache_dir: Path, *, venv: Path) -> None:
        work = Path(tempfile.mkdtemp(prefix=f"{cache_dir.name}.build-", dir=cache_dir.parent))
        try:
            server = cls(
                work / "data",
                venv=venv,
                files_root=work / "files",
                log_path=cache_dir.with_name(cache_dir.name + ".build.log"),
            )
            with server:
                pass
            shutil.rmtree(cache_dir, ignore_errors=True)  # a stale, incomplete leftover
            (work / "data").rename(cache_dir)
        finally:
            shutil.rmtree(work, ignore_errors=True)
