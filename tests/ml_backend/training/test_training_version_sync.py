"""Renaming our backend in Label Studio: only a backend found by a version we served moves."""

from __future__ import annotations

from types import SimpleNamespace

from ml_backend.training.version_sync import sync_backends


class FakeClient:
    """The SDK calls a sync makes: list and update backends, get and update the project."""

    def __init__(self, backends, model_version):
        self.backends = backends
        self.updates = []
        self.project = SimpleNamespace(model_version=model_version)
        self.ml = SimpleNamespace(list=lambda project: list(self.backends), update=self._update)
        self.projects = SimpleNamespace(get=lambda project: self.project, update=self._project)

    def _update(self, backend_id, *, title, **fields):
        self.updates.append((backend_id, title, fields.get("url")))
        for backend in self.backends:
            if backend.id == backend_id:
                backend.title = backend.model_version = title

    def _project(self, project, *, model_version):
        self.project.model_version = model_version


def backend(backend_id, title, url):
    return SimpleNamespace(id=backend_id, title=title, model_version=title, url=url)


def test_ours_is_renamed_and_the_project_follows():
    ours = backend(1, "zero-shot-v1", "http://winnow")
    other = backend(2, "someone-else", "http://other")
    client = FakeClient([ours, other], "zero-shot-v1")
    sync_backends(client, 5, "linear-v2", known={"zero-shot-v1"}, auth=None)
    assert [(b, t) for b, t, _ in client.updates] == [(1, "linear-v2")]
    assert ours.title == "linear-v2" and other.title == "someone-else"
    assert client.project.model_version == "linear-v2"


def test_no_backend_of_a_known_version_means_no_change():
    other = backend(2, "someone-else", "http://other")
    client = FakeClient([other], "someone-else")
    sync_backends(client, 5, "linear-v2", known={"zero-shot-v1"}, auth=None)
    assert client.updates == [] and client.project.model_version == "someone-else"
