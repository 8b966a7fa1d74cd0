"""`winnow report data|model` on a small real set: Fashion-MNIST PNGs in train/test folders,
with a planted cross-split copy and a broken file. The pages are parsed and their numbers
checked against independent scikit-learn computations on the stored embeddings."""

import base64
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from lxml import html as lxml_html
from PIL import Image
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from typer.testing import CliRunner

from analysis.report.data_report import SECTIONS as DATA_SECTIONS
from analysis.report.model_report import SECTIONS as MODEL_SECTIONS
from analysis.report.model_report import TRAINED
from analysis.report.readiness import CLEANING_GAIN_MAX
from winnow.cli.app import build_app
from winnow.config import get_settings
from winnow.datasets import load_fashion_mnist
from winnow.learn.linear_head import fit_linear_head
from winnow.models import make_embedder
from winnow.store import FeatureStore

CLASSES = {4: "coat", 5: "sandal", 8: "bag"}  # Fashion-MNIST ids that ImageNet names cover
PER_SPLIT = {"train": 14, "test": 6}


@pytest.fixture(scope="module")
def fashion_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fashion")
    images, labels, _ = load_fashion_mnist("train", limit=400)
    used = {k: 0 for k in CLASSES}
    for image, label in zip(images, labels, strict=True):
        if label not in CLASSES:
            continue
        i = used[label]
        used[label] += 1
        split = "train" if i < PER_SPLIT["train"] else "test"
        if i >= sum(PER_SPLIT.values()):
            continue
        folder = root / split / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).resize((56, 56)).save(folder / f"{label}_{i:03d}.png")
    shutil.copy(root / "train/bag/8_000.png", root / "test/bag/leaked_copy.png")
    (root / "train/coat/broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return root


@pytest.fixture(scope="module")
def reports(fashion_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("reports")
    mp = pytest.MonkeyPatch()
    mp.setenv("WINNOW_DATA_DIR", str(out / "store"))
    card = out / "export"
    card.mkdir()
    (card / "DATASET_CARD.md").write_text(
        "# Card\n## Classes\ncoat, sandal, bag\n## Splits\n"
        "train/test\n## Licence\nMIT\n## Collection\nTODO\n"
    )
    app, runner = build_app(), CliRunner()
    try:
        data = runner.invoke(
            app,
            [
                "report",
                "data",
                "--dir",
                str(fashion_dir),
                "--out",
                str(out / "report.html"),
                "--projection",
                "tsne",
            ],
        )
        assert data.exit_code == 0, data.output
        model = runner.invoke(
            app,
            [
                "report",
                "model",
                "--dir",
                str(fashion_dir),
                "--out",
                str(out / "model.html"),
                "--card",
                str(card),
                "--gradcam",
                "2",
            ],
        )
        assert model.exit_code == 0, model.output
        assert "readiness NO-GO" in model.output
        yield {"data": out / "report.html", "model": out / "model.html", "store": out / "store"}
    finally:
        mp.undo()


def _page(path: Path):
    return lxml_html.fromstring(path.read_text(encoding="utf-8"))


def _value(page, attr: str, key: str) -> float:
    (node,) = page.xpath(f'//*[@{attr}="{key}"]')
    return float(node.get("data-value"))


def _array(value: object) -> np.ndarray:
    """Plotly stores numpy arrays as base64 typed arrays ({dtype, bdata, shape})."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(value)


def _figures(page) -> dict[str, dict]:
    out = {}
    for div in page.xpath('//div[@class="figure"]'):
        (spec,) = page.xpath(f'//script[@id="{div.get("id")}-json"]')
        out[div.get("data-figure")] = json.loads(spec.text)
    return out


@pytest.mark.slow
def test_data_report_sections_figures_and_counts(reports, fashion_dir: Path) -> None:
    page = _page(reports["data"])
    assert [s.get("id") for s in page.xpath("//section")] == list(DATA_SECTIONS)
    figures = _figures(page)
    assert set(figures) == {
        "class_counts",
        "class_shares",
        "sizes",
        "quality",
        "channels",
        "duplicates",
        "embeddings",
    }
    assert all(spec["data"] for spec in figures.values())
    assert page.xpath('//script[@id="plotlyjs-gz"]')  # plotly.js travels inside the file
    for split in ("train", "test"):
        for cls in CLASSES.values():
            on_disk = len(list((fashion_dir / split / cls).glob("*.png")))
            assert _value(page, "data-key", f"counts:{cls}:{split}") == on_disk
    assert _value(page, "data-metric", "n_files") == 62
    assert _value(page, "data-metric", "n_readable") == 61
    for cls in CLASSES.values():  # a sample grid per class with embedded JPEG thumbnails
        imgs = page.xpath(f'//div[@data-gallery="class:{cls}"]//img/@src')
        assert len(imgs) == 8 and all(s.startswith("data:image/jpeg;base64,") for s in imgs)
    assert page.xpath('//div[@data-gallery="extreme:darkest"]//img')
    leak = page.xpath('//div[@data-gallery="cluster:1"]//figcaption')
    assert {"train / bag", "test / bag"} <= {c.text_content().split("png")[-1] for c in leak}
    heat = figures["duplicates"]["data"][0]
    assert heat["x"] == ["train", "test"] and _array(heat["z"])[0, 1] >= 1  # the planted leak
    assert _value(page, "data-key", "audit:unreadable:files") == 1
    embedded = figures["embeddings"]["data"]
    assert sum(len(_array(t["x"])) for t in embedded) == 61
    assert any(t["marker"]["symbol"] == "x" for t in embedded)  # flagged points marked


def _held_out_vectors(store: Path, fashion_dir: Path):
    settings = get_settings(data_dir=store.parent / "store")
    model_id = make_embedder(settings.embedding).model_id
    with FeatureStore(settings.store_path) as fs:
        sources = fs.sources_frame()
        shas, vectors = fs.embeddings(model_id, list(sources["sha256"]))
    row = dict(zip(shas, vectors, strict=True))
    parts = {}
    for split in ("train", "test"):
        part = sources[(sources["split"] == split) & sources["sha256"].isin(row)]
        part = part.sort_values("uri")  # the broken file has no embedding
        parts[split] = (np.stack([row[s] for s in part["sha256"]]), list(part["label"]))
    return parts


@pytest.mark.slow
def test_model_report_numbers_match_sklearn(reports, fashion_dir: Path) -> None:
    page = _page(reports["model"])
    assert [s.get("id") for s in page.xpath("//section")] == list(MODEL_SECTIONS)
    assert {"reliability", "auroc", "learning_curve", "confusion_0"} <= set(_figures(page))
    parts = _held_out_vectors(reports["store"], fashion_dir)
    classes = sorted(CLASSES.values())
    (x_tr, l_tr), (x_te, l_te) = parts["train"], parts["test"]
    head = fit_linear_head(x_tr, [[c] for c in l_tr], classes=classes, multi_label=False)
    probs = head.predict_proba(x_te)
    y = np.array([classes.index(c) for c in l_te])
    pred = probs.argmax(axis=1)
    assert _value(page, "data-metric", f"{TRAINED}:n") == len(y) == 19
    assert _value(page, "data-metric", f"{TRAINED}:accuracy") == pytest.approx(
        accuracy_score(y, pred)
    )
    assert _value(page, "data-metric", f"{TRAINED}:macro_f1") == pytest.approx(
        f1_score(y, pred, average="macro")
    )
    for k, cls in enumerate(classes):
        assert _value(page, "data-metric", f"{TRAINED}:auroc:{cls}") == pytest.approx(
            roc_auc_score(y == k, probs[:, k])
        )
    assert _value(page, "data-metric", "zero-shot ImageNet:accuracy") >= 0.0
    assert _value(page, "data-metric", "overfit:train_accuracy") == 1.0
    shuffle = _value(page, "data-metric", "shuffle:accuracy")
    assert shuffle <= 0.75  # chance here is 7/19
    assert len(page.xpath('//div[@data-gallery="gradcam:correct"]//img')) == 4  # 2 x (crop, CAM)


@pytest.mark.slow
def test_readiness_checklist_is_computed(reports) -> None:
    page = _page(reports["model"])
    status = {tr.get("data-check"): tr.get("data-passed") for tr in page.xpath("//tr[@data-check]")}
    assert status == {
        "all images open": "False",  # broken.png
        "no cross-split near duplicates": "False",  # leaked_copy.png
        "labels validated": status["labels validated"],
        "cleaning would not pay": status["cleaning would not pay"],
        "splits balanced": "True",
        "preprocessing documented": "True",
        "EDA done": "True",  # report.html next to model.html, same fingerprint
        "sanity checks passed": "True",
        "card complete": "False",  # the card still says TODO
    }
    assert page.xpath('//div[@data-verdict="no-go"]')
    evidence = page.xpath('//tr[@data-check="card complete"]/td[3]')[0].text_content()
    assert "TODO" in evidence


@pytest.mark.slow
def test_cleanliness_shows_the_audits_queues_and_whether_cleaning_pays(reports) -> None:
    model, data = _page(reports["model"]), _page(reports["data"])
    n_likely = _value(model, "data-key", "queue:likely")
    in_data = data.xpath('//*[@data-key="audit:label_issue:files"]')
    assert n_likely == (float(in_data[0].get("data-value")) if in_data else 0)
    (item,) = model.xpath('//tr[@data-check="cleaning would not pay"]')
    if n_likely == 0:
        assert item.get("data-passed") == "True" and not model.xpath('//*[@data-table="cleaning"]')
        return
    acc = {m: _value(model, "data-metric", f"cleaning:{m}") for m in ("raw", "drop", "relabel")}
    pays = max(acc["drop"], acc["relabel"]) - acc["raw"] > CLEANING_GAIN_MAX
    assert item.get("data-passed") == str(not pays)
    assert (
        "benchmarks/cleanliness.py" in model.xpath('//section[@id="cleanliness"]')[0].text_content()
    )


@pytest.mark.slow
def test_gradcam_model_is_the_linear_head_on_the_embedding(fashion_dir: Path) -> None:
    import torch

    from analysis.report.gradcam import HeadedBackbone, grad_cam
    from winnow.models.embedder import prepare_image

    embedder = make_embedder(get_settings().embedding)
    paths = sorted(fashion_dir.glob("train/*/*_00[0-1].png"))
    arrays = np.stack([prepare_image(Image.open(p), embedder.input_spec) for p in paths])
    vectors = embedder.embed_arrays(arrays)
    labels = [[p.parent.name] for p in paths]
    head = fit_linear_head(vectors, labels, classes=sorted(CLASSES.values()), multi_label=False)
    model = HeadedBackbone(embedder.encode_tensor, head.coef, head.intercept).eval()
    x = embedder.to_tensor(arrays)
    with torch.no_grad():
        probs = model(x).softmax(dim=-1).numpy()
    np.testing.assert_allclose(probs, head.predict_proba(vectors), atol=1e-4)
    with torch.enable_grad():
        heat = grad_cam(model, embedder.model.conv_head, x, probs.argmax(axis=1))
    assert heat.shape == (len(paths), 224, 224)
    assert heat.min() >= 0 and np.allclose(heat.reshape(len(paths), -1).max(axis=1), 1.0)
