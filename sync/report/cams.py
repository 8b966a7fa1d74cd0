"""The model report's parts that need the backbone or files on disk: Grad-CAM examples, the
preprocessing description, and the readiness checklist's inputs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.report import readiness as rd
from analysis.report.eda import dataset_fingerprint, split_balance
from analysis.report.html import thumbnail_data_uri
from analysis.report.model_report import TRAINED, CamExample, ModelReport
from sync.report.inputs import ReportInputs, load_images
from winnow.config import Settings
from winnow.models.embedder import Embedder

CAM_SIDE = 128


def preprocessing_text(embedder: Embedder | None) -> str:
    """What the network sees, read from the embedder itself (the InputSpec and model id)."""
    if embedder is None:
        return ""
    spec = embedder.input_spec
    return (
        f"{embedder.model_id}: RGB (transparency on white), {spec.resize.replace('_', ' ')} "
        f"to {spec.size}x{spec.size} px (bicubic), backbone normalisation, L2-normalised "
        f"{embedder.dim}-d embedding"
    )


def gradcam_examples(
    inputs: ReportInputs,
    settings: Settings,
    report: ModelReport,
    files: pd.DataFrame,
    test_rows: np.ndarray,
    *,
    per_group: int = 6,
    seed: int = 0,
) -> tuple[dict[str, list[CamExample]], str]:
    """Grad-CAM of the linear head on up to ``per_group`` correct and wrong held-out images."""
    from winnow.models.backbone import BackboneEmbedder

    embedder = inputs.embedder
    if per_group <= 0 or not isinstance(embedder, BackboneEmbedder):
        return {}, "Grad-CAM needs the CNN backbone embedder (embedding.kind = backbone)."
    import torch

    from analysis.report.gradcam import HeadedBackbone, grad_cam, overlay
    from winnow.learn.linear_head import fit_linear_head
    from winnow.models.embedder import prepare_image

    s = report.split
    head = fit_linear_head(
        s.x_train, [[s.classes[i]] for i in s.y_train], classes=s.classes, multi_label=False
    )
    probs = head.predict_proba(s.x_test)
    pred = probs.argmax(axis=1)
    rng = np.random.default_rng(seed)
    groups = {
        "correct": np.flatnonzero(pred == s.y_test),
        "wrong": np.flatnonzero(pred != s.y_test),
    }
    model = HeadedBackbone(embedder.encode_tensor, head.coef, head.intercept).eval()
    layer = embedder.model.conv_head
    out: dict[str, list[CamExample]] = {}
    for group, members in groups.items():
        chosen = np.sort(rng.choice(members, size=min(per_group, len(members)), replace=False))
        images = load_images(
            inputs.read,
            [(int(i), files.at[test_rows[i], "uri"]) for i in chosen],
            settings,
            min_side=embedder.input_spec.size,
        )
        if not images:
            continue
        keys = list(images)
        arrays = np.stack([prepare_image(images[i], embedder.input_spec) for i in keys])
        x = embedder.to_tensor(arrays)  # the embedder's own normalisation
        with torch.enable_grad():
            heat = grad_cam(model, layer, x, pred[keys])
        out[group] = [
            CamExample(
                image=thumbnail_data_uri(overlay(arr, h), side=CAM_SIDE),
                original=thumbnail_data_uri(_image(arr), side=CAM_SIDE),
                name=str(files.at[test_rows[i], "uri"]).rsplit("/", 1)[-1],
                true=s.classes[s.y_test[i]],
                predicted=s.classes[pred[i]],
                confidence=float(probs[i, pred[i]]),
            )
            for i, arr, h in zip(keys, arrays, heat, strict=True)
        ]
    note = (
        f"{TRAINED} on {embedder.model_id}, target = the predicted class; captum "
        "LayerGradCam at the last convolution (conv_head), upsampled to the input crop."
    )
    return out, note


def _image(array: np.ndarray):
    from PIL import Image

    return Image.fromarray(array)


def checklist(
    inputs: ReportInputs,
    report: ModelReport,
    files: pd.DataFrame,
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    issue: np.ndarray,
    card: Path | None,
    data_report: Path | None,
) -> list[rd.CheckItem]:
    """Every readiness item, computed."""
    assigned = pd.Series(None, index=files.index, dtype=object)
    assigned[train_rows], assigned[test_rows] = "train", "held-out"
    mix = split_balance(files.assign(split=assigned).loc[assigned.notna()])
    sanity = report.shuffle.passed and report.overfit.passed
    return [
        *data_checks(files, train_rows, test_rows, issue, "the label-issue audit"),
        cleaning_item(report),
        rd.CheckItem(
            "splits balanced",
            bool((mix <= rd.SPLIT_TV_MAX).all()),
            "class-mix distance (TV) "
            + ", ".join(f"{k} {v:.3f}" for k, v in mix.items())
            + f"; limit {rd.SPLIT_TV_MAX}",
        ),
        preprocessing_check(inputs),
        eda_check(data_report, dataset_fingerprint(files)),
        rd.CheckItem(
            "sanity checks passed",
            sanity,
            f"shuffle accuracy {report.shuffle.accuracy:.3f} (limit "
            f"{report.shuffle.limit:.3f}); overfit train accuracy "
            f"{report.overfit.train_accuracy:.3f}",
        ),
        rd.card_check(card_text(card)),
    ]


def data_checks(
    files: pd.DataFrame,
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    issue: np.ndarray,
    audit: str,
) -> list[rd.CheckItem]:
    """The items every model report shares: images open, no near duplicate across the split,
    few labels flagged by ``audit``."""
    readable = int(files["error_kind"].isna().sum())
    assigned = pd.Series(None, index=files.index, dtype=object)
    assigned[train_rows], assigned[test_rows] = "train", "held-out"
    leaks = cross_split_clusters(files, assigned)
    return [
        rd.ratio_check(
            "all images open", len(files) - readable, len(files), 0.0, "files unreadable"
        ),
        rd.CheckItem(
            "no cross-split near duplicates",
            leaks == 0,
            f"{leaks} near-duplicate clusters span training and held-out",
        ),
        rd.ratio_check(
            "labels validated",
            int(issue.sum()),
            len(issue),
            rd.LABEL_ISSUE_MAX,
            f"labelled images flagged by {audit}",
        ),
    ]


def cleaning_item(report: ModelReport) -> rd.CheckItem:
    """Whether acting on the audit's likely label-issue queue is expected to pay."""
    labels = report.audit_labels
    if labels is None:
        return rd.CheckItem("cleaning would not pay", None, "no label audit")
    return rd.cleaning_check(labels.cleaning, labels.n_likely)


def preprocessing_check(inputs: ReportInputs) -> rd.CheckItem:
    return rd.CheckItem(
        "preprocessing documented",
        inputs.embedder is not None,
        preprocessing_text(inputs.embedder) or "no embedder",
    )


def cross_split_clusters(files: pd.DataFrame, assigned: pd.Series) -> int:
    if "dup_group" not in files:
        return 0
    spans = assigned.dropna().groupby(files["dup_group"]).nunique()
    return int((spans > 1).sum())


def eda_check(path: Path | None, fingerprint: str) -> rd.CheckItem:
    if path is None or not path.is_file():
        return rd.CheckItem(
            "EDA done", False, f"no data report at {path}; run `winnow report data`"
        )
    found = re.search(
        r'name="winnow-dataset-fingerprint" content="([0-9a-f]+)"',
        path.read_text(encoding="utf-8", errors="replace")[:4000],
    )
    same = bool(found) and found.group(1) == fingerprint
    return rd.CheckItem(
        "EDA done",
        same,
        f"{path.name}: "
        + ("data report of exactly this data" if same else "a data report of other data"),
    )


def card_text(card: Path | None) -> str | None:
    if card is None:
        return None
    path = card / "DATASET_CARD.md" if card.is_dir() else card
    return path.read_text(encoding="utf-8") if path.is_file() else ""
