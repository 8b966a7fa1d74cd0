"""/health answers anyone who can reach the backend: it says what is wrong in a few generic
words, and the exception text (paths, settings, hosts) stays in the backend log."""

from __future__ import annotations

import logging


def test_a_model_that_cannot_load_is_reported_without_its_exception(
    make_settings, client_for, tiny_clip_checkpoint, tmp_path, caplog
):
    name, _ = tiny_clip_checkpoint
    missing = tmp_path / "secret-folder" / "missing.pt"
    settings = make_settings(
        embedding={"kind": "clip", "clip_model": name, "clip_checkpoint": missing}
    )
    with caplog.at_level(logging.ERROR, logger="ml_backend.app"):
        client = client_for(settings)
    body = client.get("/health").text
    assert client.get("/health").json()["model"] == (
        "unavailable: the model could not be loaded; see the backend log"
    )
    for secret in ("secret-folder", "missing.pt", "WINNOW_EMBEDDING", str(tmp_path)):
        assert secret not in body
    assert "missing.pt" in caplog.text  # the detail is in the log


def test_a_failed_training_run_is_reported_without_its_exception(
    make_settings, client_for, imagenet_predictor
):
    client = client_for(make_settings(), predictor=imagenet_predictor)
    client.post("/webhook", json={"action": "START_TRAINING", "project": {"id": 7}})
    learning = client.app.state.backend.learning
    assert learning.worker.wait_idle(30)
    detail = learning.worker.status().last_error  # no Label Studio API key configured
    assert detail and "API key" in detail
    health = client.get("/health").json()
    assert health["training"] == "failed"
    assert health["training_error"] == "the last training run of project 7 failed; see the log"
    assert "API key" not in client.get("/health").text
