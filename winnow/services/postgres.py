"""A real PostgreSQL server on loopback, for Label Studio's production database path.

``initdb`` and ``postgres`` refuse to run as root, so when this process is root they run as
the ``postgres`` system user (through ``runuser``) in a directory that user owns; such a
directory cannot live under a root-only temporary folder, so by default the cluster gets its
own directory in the system temp dir, removed on stop. The server listens on 127.0.0.1 only
(its Unix socket sits in the data directory) and uses password authentication.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from winnow.config import child_env
from winnow.errors import ServiceError
from winnow.services.process import LOOPBACK, Service, free_port

SYSTEM_USER = "postgres"


@dataclass(frozen=True)
class PostgresDatabase:
    """Where a database is and how to log in; enough for Label Studio's settings."""

    host: str
    port: int
    name: str
    user: str
    password: str = field(repr=False)

    def label_studio_env(self) -> dict[str, str]:
        """The variables Label Studio reads to use this database instead of SQLite."""
        return {
            "DJANGO_DB": "default",  # Label Studio's alias of its PostgreSQL settings
            "POSTGRE_HOST": self.host,
            "POSTGRE_PORT": str(self.port),
            "POSTGRE_NAME": self.name,
            "POSTGRE_USER": self.user,
            "POSTGRE_PASSWORD": self.password,
        }


def find_bin_dir() -> Path:
    """Directory holding ``initdb`` and ``postgres`` (Debian keeps them off PATH)."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent  # Debian links it from its versioned dir
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not found:
        raise ServiceError("PostgreSQL is not installed: apt-get install postgresql-15")
    return Path(found[0]).parent


class PostgreSQL(Service):
    """One PostgreSQL cluster with a superuser ``postgres`` and a database ``name``."""

    name = "PostgreSQL"
    startup_timeout_s = 60.0

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        database: str = "winnow",
        port: int | None = None,
        bin_dir: Path | None = None,
    ) -> None:
        self._own_dir = data_dir is None
        root = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="winnow-pg-"))
        self.root = root
        self.port = port or free_port()
        self.bin_dir = bin_dir or find_bin_dir()
        self.database = PostgresDatabase(
            LOOPBACK, self.port, database, "postgres", secrets.token_hex(16)
        )
        super().__init__(root / "postgres.log")

    @property
    def cluster_dir(self) -> Path:
        return self.root / "cluster"

    def _as_owner(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", SYSTEM_USER, "--", *cmd] if os.geteuid() == 0 else cmd

    def _prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, SYSTEM_USER, SYSTEM_USER)
        if (self.cluster_dir / "PG_VERSION").is_file():
            raise ServiceError(f"{self.cluster_dir} already holds a cluster; use a new directory")
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.database.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, SYSTEM_USER, SYSTEM_USER)
        pwfile.chmod(0o600)
        initdb = [
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.cluster_dir),
            "-U",
            "postgres",
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
        ]
        self._run(initdb)
        pwfile.unlink()

    def _run(self, cmd: list[str]) -> None:
        result = subprocess.run(self._as_owner(cmd), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceError(f"{Path(cmd[0]).name} failed: {result.stderr.strip()[-2000:]}")

    def _command(self) -> list[str]:
        return self._as_owner(
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.cluster_dir),
                "-p",
                str(self.port),
                "-c",
                f"listen_addresses={LOOPBACK}",
                "-c",
                f"unix_socket_directories={self.root}",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
            ]
        )

    def _is_ready(self) -> bool:
        """Ready when the server accepts a login and the database exists (created once)."""
        env = child_env(PGPASSWORD=self.database.password)
        base = ["-h", LOOPBACK, "-p", str(self.port), "-U", "postgres"]
        probe = [
            str(self.bin_dir / "psql"),
            *base,
            "-d",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{self.database.name}'",
        ]
        result = subprocess.run(probe, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            return False
        if result.stdout.strip() != "1":
            create = [str(self.bin_dir / "createdb"), *base, self.database.name]
            subprocess.run(create, env=env, capture_output=True, check=True)
        return True

    def query(self, sql: str) -> str:
        """Run ``sql`` in the database with psql and return its unaligned output."""
        env = child_env(PGPASSWORD=self.database.password)
        cmd = [
            str(self.bin_dir / "psql"),
            "-h",
            LOOPBACK,
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            self.database.name,
            "-tAc",
            sql,
        ]
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def stop(self) -> None:
        super().stop()
        if self._own_dir:
            shutil.rmtree(self.root, ignore_errors=True)
