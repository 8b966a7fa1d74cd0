"""The UI's only way to the data: the API over HTTP, with the key from the UI's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from winnow.config import Settings


class ApiProblem(Exception):
    """The API answered with an error; the message is its JSON ``error`` text."""


@dataclass
class ApiClient:
    base_url: str
    api_key: str | None = None
    timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiClient:
        """The client for ``ui.api_url`` (default ``serve.api_url``) with ``ui.api_key``."""
        key = settings.ui.api_key
        return cls(
            settings.ui.api_url or settings.serve.api_url,
            key.get_secret_value() if key is not None else None,
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-API-Key": self.api_key} if self.api_key else {}
        try:
            response = httpx.request(
                method,
                self.base_url.rstrip("/") + path,
                headers=headers,
                timeout=self.timeout_s,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise ApiProblem(f"the API at {self.base_url} is unreachable: {exc}") from exc
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise ApiProblem(f"{response.status_code}: {message}")
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return self._call(method, path, **kwargs).json()

    def stats(self) -> dict[str, Any]:
        return self.json("GET", "/v1/stats")

    def samples(self, label: str, n: int) -> list[dict[str, Any]]:
        return self.json("GET", "/v1/samples", params={"label": label, "n": n})["hits"]

    def thumbnail(self, task_id: int) -> bytes:
        return self._call("GET", f"/v1/tasks/{task_id}/thumbnail").content

    def classify(self, name: str, data: bytes) -> dict[str, Any]:
        return self.json("POST", "/v1/classify", files={"file": (name, data)})

    def search_image(self, name: str, data: bytes, k: int, **filters: Any) -> list[dict]:
        return self.json(
            "POST", "/v1/search/image", files={"file": (name, data)}, params={"k": k, **filters}
        )["hits"]

    def search_text(self, text: str, k: int, **filters: Any) -> list[dict]:
        return self.json("POST", "/v1/search/text", json={"text": text, "k": k, **filters})["hits"]
