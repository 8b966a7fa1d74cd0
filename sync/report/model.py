"""``winnow report model``: gather the held-out split, the models and the label audit, run the
report's experiments (:mod:`analysis.report.model_report`) and write the page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from analysis.label_issues import find_label_issues, out_of_sample_probs
from analysis.report.eda import dataset_fingerprint
from analysis.report.model_report import Split, build_model_report, render_model_report
from sync.report.cams import checklist, gradcam_examples, preprocessing_text
from sync.report.cleanliness import audit_labels
from sync.report.inputs import ReportInputs, load_images
from winnow.config import Settings
from winnow.errors import WinnowError
from winnow.learn.linear_head import fit_linear_head

HELD_OUT = 0.25  # share held out when the data has no test or val split


def write_model_report(
    inputs: ReportInputs,
    settings: Settings,
    out: Path,
    *,
    card: Path | None = None,
    data_report: Path | None = None,
    project: int | None = None,
    plotlyjs: str = "compressed",
    gradcam: int = 6,
) -> tuple[Path, bool]:
    """Write the model report to ``out``; returns the path and the readiness verdict.
    Data whose labels are sets get the multi-label report (:func:`wants_multilabel`)."""
    files = inputs.result.files
    if wants_multilabel(inputs):
        from sync.report.multilabel import write_multilabel_report

        return write_multilabel_report(
            inputs,
            settings,
            out,
            card=card,
            data_report=data_report,
            project=project,
            plotlyjs=plotlyjs,
        )
    usable = usable_rows(files, inputs.vectors)
    train_rows, test_rows, how = held_out_split(files, usable, seed=settings.training.seed)
    classes = sorted(files.loc[usable, "label"].unique())
    index = {c: i for i, c in enumerate(classes)}
    y = files["label"].map(index)
    x = inputs.vectors
    split = Split(
        classes,
        x[train_rows],
        y[train_rows].to_numpy(int),
        x[test_rows],
        y[test_rows].to_numpy(int),
        how,
    )
    fit = linear_head_fit(classes)
    others = zero_shot(inputs, settings, classes, files, test_rows)
    others |= registry_models(settings, project, classes, split.x_test)
    issue = label_issue_mask(x[usable], y[usable].to_numpy(int), len(classes))
    flagged = pd.Series(issue, index=usable)
    report = build_model_report(
        split,
        fit,
        others=others,
        train_issue=flagged[train_rows].to_numpy(),
        test_issue=flagged[test_rows].to_numpy(),
        title=f"Model report: {inputs.source}",
        audit_labels=audit_labels(inputs, usable, classes, seed=settings.training.seed),
    )
    cams, note = gradcam_examples(inputs, settings, report, files, test_rows, per_group=gradcam)
    items = checklist(inputs, report, files, train_rows, test_rows, issue, card, data_report)
    html = render_model_report(
        report,
        checklist=items,
        cams=cams,
        cam_note=note,
        preprocessing=preprocessing_text(inputs.embedder),
        fingerprint=dataset_fingerprint(files),
        plotlyjs=plotlyjs,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out, all(item.passed is not False for item in items)


def wants_multilabel(inputs: ReportInputs) -> bool:
    """A project's labeling config decides (``choice="multiple"`` is multi-label even when
    every task carries one label); without one (a folder), the labels do."""
    if inputs.multi_label is not None:
        return inputs.multi_label
    return is_multilabel(inputs.result.files)


def is_multilabel(files: pd.DataFrame) -> bool:
    """Label sets arrive joined with "+" (:func:`sync.report.inputs.project_table`)."""
    return bool(files["label"].dropna().astype(str).str.contains("+", regex=False).any())


def usable_rows(files: pd.DataFrame, vectors: np.ndarray | None) -> np.ndarray:
    """Readable, labelled rows with an embedding."""
    if vectors is None:
        raise WinnowError("the model report needs embeddings; enable features.embed")
    labels = files["label"]
    ok = files["error_kind"].isna() & labels.notna() & (np.abs(vectors).sum(axis=1) > 0)
    rows = files.index[ok].to_numpy()
    if len(rows) < 10 or labels[rows].nunique() < 2:
        raise WinnowError(
            f"too little labelled data for a model report ({len(rows)} images, "
            f"{labels[rows].nunique()} classes)"
        )
    return rows


def held_out_split(
    files: pd.DataFrame, rows: np.ndarray, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, str]:
    """The data's own test split (else val) against train; without one, a stratified sample."""
    split = files.loc[rows, "split"]
    for name in ("test", "val"):
        held = (split == name).to_numpy()
        if held.any() and not held.all():
            train = (split == "train").to_numpy() | split.isna().to_numpy()
            return rows[train if train.any() else ~held], rows[held], f"the '{name}' split"
    labels = files.loc[rows, "label"]
    counts = labels.value_counts()
    strat = labels.where(labels.map(counts) >= 2, "__rare__")
    train, test = train_test_split(rows, test_size=HELD_OUT, random_state=seed, stratify=strat)
    return np.sort(train), np.sort(test), f"a stratified {HELD_OUT:.0%} sample (seed {seed})"


def linear_head_fit(classes: list[str]):
    """The experiments' ``fit``: the project's linear head on cached embeddings."""

    def fit(x: np.ndarray, y: np.ndarray, seed: int):
        head = fit_linear_head(
            x, [[classes[i]] for i in y], classes=classes, multi_label=False, seed=seed
        )
        return head.predict_proba

    return fit


def label_issue_mask(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    probs = out_of_sample_probs(x, y, n_classes=k)
    return find_label_issues(y, probs).is_issue


def zero_shot(
    inputs: ReportInputs,
    settings: Settings,
    classes: list[str],
    files: pd.DataFrame,
    test_rows: np.ndarray,
    *,
    multiple: bool = False,
) -> dict[str, np.ndarray | str]:
    """Zero-shot probabilities on the held-out rows (CLIP, or the offline ImageNet stand-in);
    ``multiple``: per-class scores of a multiple-choice control, rows not renormalised."""
    from winnow.errors import ConfigError
    from winnow.labelstudio.controls.choices import ChoiceClass, ChoicesControl
    from winnow.zeroshot.clip import ClipZeroShot
    from winnow.zeroshot.imagenet import ImageNetZeroShot

    embedder = inputs.embedder
    if embedder is None:
        return {"zero-shot": "no embedder to compute zero-shot features with."}
    if settings.embedding.kind == "clip":
        predictor, name = (
            ClipZeroShot(embedder, settings.backend.prompt_templates),
            "zero-shot CLIP",
        )
    else:
        predictor, name = ImageNetZeroShot(embedder), "zero-shot ImageNet"
    control = ChoicesControl(
        "label", "image", "image", multiple, tuple(ChoiceClass(c, (c,)) for c in classes)
    )
    try:
        head = predictor.class_head(control)
    except ConfigError as exc:
        return {name: str(exc).split(". ")[0] + "."}
    features = _zero_shot_features(predictor.feature_model, inputs, settings, files, test_rows)
    probs = predictor.probabilities(features, head, multiple=multiple)
    return {name: probs if multiple else probs / probs.sum(axis=1, keepdims=True)}


def _zero_shot_features(
    model, inputs: ReportInputs, settings: Settings, files: pd.DataFrame, rows: np.ndarray
) -> np.ndarray:
    """The predictor's per-image vectors: the embeddings themselves (CLIP), else computed once
    and cached in the feature store under the feature model's id."""
    from winnow.models.embedder import prepare_image
    from winnow.store import FeatureStore

    if model.model_id == inputs.embedder.model_id:
        return inputs.vectors[rows]
    shas = list(files.loc[rows, "sha256"])
    with FeatureStore(settings.store_path) as store:
        found, vectors = store.embeddings(model.model_id, list(dict.fromkeys(shas)))
        have = dict(zip(found, vectors, strict=True))
        todo = [
            (int(r), files.at[r, "uri"]) for r, s in zip(rows, shas, strict=True) if s not in have
        ]
        images = load_images(inputs.read, todo, settings, min_side=model.input_spec.size)
        if images:
            arrays = np.stack([prepare_image(im, model.input_spec) for im in images.values()])
            new = model.embed_arrays(arrays)
            new_shas = [files.at[r, "sha256"] for r in images]
            store.put_embeddings(model.model_id, new_shas, new)
            have |= dict(zip(new_shas, new, strict=True))
    return np.stack([have[s] for s in shas])


def registry_models(
    settings: Settings,
    project: int | None,
    classes: list[str],
    x_test: np.ndarray,
    *,
    multiple: bool = False,
) -> dict[str, np.ndarray | str]:
    """The project's current registered model, when the registry has one (``multiple``:
    per-class probabilities kept as they are, not renormalised)."""
    if project is None:
        return {}
    try:
        from winnow.learn.registry import ModelRegistry
    except ImportError:
        return {"registered model": "the model registry is not installed"}
    model = ModelRegistry(settings.data_dir / "models").current(project)
    if model is None:
        return {"registered model": f"no trained model for project {project}"}
    probs = np.asarray(model.predict_proba_vectors(x_test))
    out = np.zeros((len(x_test), len(classes)))
    for j, c in enumerate(model.classes):
        if c in classes:
            out[:, classes.index(c)] = probs[:, j]
    if multiple:
        return {f"registered model {model.version}": out}
    total = out.sum(axis=1, keepdims=True)
    return {f"registered model {model.version}": out / np.where(total > 0, total, 1)}
