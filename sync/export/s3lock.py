"""Create-only puts on S3, and the export lease they make possible.

``put_new`` writes an object only if the key does not exist yet (``If-None-Match: *``, which
AWS S3 and SeaweedFS honour: of racing writers exactly one gets 200, the rest 412). It then
reads the object back, so a server that ignored the header, or a retried request whose first
attempt had already landed, is still told apart from a real conflict.

``S3Lease`` is one export at a time into an ``s3://`` destination, across hosts:
``<prefix>/_EXPORT_LOCK.json`` is created with ``put_new`` and deleted at the end. It names
its holder (host, PID, since). A lease left by a run that died on this host (its PID is gone)
is taken over; one from another host cannot be probed, so the refusal names the object to
delete once that run is known to be dead. Callers hold the local lock file around it, so two
take-overs on one host cannot race.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Callable
from typing import Any

from sync.export.s3errors import error_code
from winnow.errors import WinnowError
from winnow.locks import LockBusyError, describe, owner_record, pid_alive

LEASE = "_EXPORT_LOCK.json"
_HELD: set[str] = set()  # run ids of the leases this process holds now
CONFLICT = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
Call = Callable[..., Any]  # the target's error-translating invoker: call(action, fn, **kwargs)


def put_new(call: Call, client: Any, bucket: str, key: str, body: bytes) -> bool:
    """Create ``key`` with ``body`` unless it exists; True when the stored object is ours."""
    try:
        call(
            f"writing {key}",
            client.put_object,
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except WinnowError as exc:
        if error_code(exc) not in CONFLICT:
            raise
    return read(call, client, bucket, key) == body


def read(call: Call, client: Any, bucket: str, key: str) -> bytes | None:
    try:
        response = call(f"reading {key}", client.get_object, Bucket=bucket, Key=key)
    except WinnowError as exc:
        if error_code(exc) in ("NoSuchKey", "404"):
            return None
        raise
    return call(f"reading {key}", response["Body"].read)


class S3Lease:
    """The lease object of one destination; use as a context manager."""

    def __init__(self, call: Call, client: Any, bucket: str, key: str, url: str) -> None:
        self.call, self.client, self.bucket, self.key, self.url = call, client, bucket, key, url
        self.run = secrets.token_hex(8)
        record = {**owner_record(f"an export to {url}"), "run": self.run}
        self.body = json.dumps(record).encode()

    def __enter__(self) -> S3Lease:
        _HELD.add(self.run)  # before the put: a racing thread must not take it for dead
        try:
            for _attempt in range(2):
                if put_new(self.call, self.client, self.bucket, self.key, self.body):
                    return self
                holder = self._holder()
                if holder is not None and not _dead_here(holder):
                    self._refuse(holder)
                if holder is not None:
                    self.call("removing a dead run's lease", self._delete)
            self._refuse(self._holder())
        except BaseException:
            _HELD.discard(self.run)
            raise
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        _HELD.discard(self.run)
        try:
            if read(self.call, self.client, self.bucket, self.key) == self.body:
                self.call("releasing the export lease", self._delete)
        except WinnowError:
            if kind is None:
                raise  # else the export's own error is the one to report

    def _refuse(self, holder: dict[str, Any] | None) -> None:
        name = f"s3://{self.bucket}/{self.key}"
        who = describe(holder) if holder else None
        hint = "; if that run died on another host, delete the lock object"
        raise LockBusyError(name, f"an export to {self.url}", who, hint=hint)

    def _holder(self) -> dict[str, Any] | None:
        data = read(self.call, self.client, self.bucket, self.key)
        try:
            return json.loads(data) if data else None
        except ValueError:
            return None

    def _delete(self) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key)


def _dead_here(holder: dict[str, Any]) -> bool:
    """A holder on this host whose process is gone, or an earlier run of this process that
    could not release its lease (S3 was down); anything else may still be running."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False
    if pid == os.getpid():
        return holder.get("run") not in _HELD
    return not pid_alive(pid)
