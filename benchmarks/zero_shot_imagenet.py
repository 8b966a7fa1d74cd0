"""How good is the offline stand-in for CLIP? The ImageNet zero-shot predictor on real photos.

Real labelled photos that install offline: Debian ``tuxpaint-stamps-default`` (photo
cut-outs of animals, filed by kind: birds, fish, insects, mammals, ...). Two tasks, both
single choice, run through the same PredictionService the backend uses:

- coarse: the folder is the label (bird, fish, insect, mammal, reptile, amphibian,
  shellfish; marsupials count as mammals, lizards and the dinosaur as reptiles);
- species: stamps whose file name is itself an ImageNet class name ("zebra", "koala",
  "flamingo"), labelled by that name, with every such name as a class.

    python benchmarks/zero_shot_imagenet.py [--record]
"""

from __future__ import annotations

import argparse
import re
import tempfile
from collections import Counter
from pathlib import Path

from _common import machine_line, record_result

from ml_backend.service import PredictionService
from winnow.config import get_settings
from winnow.store import FeatureStore
from winnow.zeroshot import make_predictor
from winnow.zeroshot.imagenet_names import imagenet_classes

ROOT = Path("/usr/share/tuxpaint/stamps/animals")
COARSE = {
    "amphibians": "amphibian",
    "birds": "bird",
    "fish": "fish",
    "insects": "insect",
    "mammals": "mammal",
    "marsupials": "mammal",
    "lizards": "reptile",
    "dinosaur": "reptile",
    "shellfish": "shellfish",
}


def coarse_set() -> list[tuple[Path, str]]:
    return [(p, COARSE[p.relative_to(ROOT).parts[0]]) for p in sorted(ROOT.rglob("*.png"))]


def species_set() -> list[tuple[Path, str]]:
    """Stamps named after an ImageNet class ("lion-2.png" -> "lion"); groups excluded."""
    out = []
    for path in sorted(ROOT.rglob("*.png")):
        name = re.sub(r"[-_ ]?\d+$", "", path.stem).replace("_", " ").replace("-", " ")
        if imagenet_classes(name) and name not in {"fish", "bird", "insect", "cat", "dog"}:
            out.append((path, name))
    return out


def config(labels: list[str]) -> str:
    choices = "".join(f'<Choice value="{label}"/>' for label in labels)
    return (
        f'<View><Image name="image" value="$image"/><Choices name="label" '
        f'toName="image">{choices}</Choices></View>'
    )


def evaluate(
    service: PredictionService, items: list[tuple[Path, str]]
) -> tuple[list[str], Counter]:
    labels = sorted({label for _, label in items})
    plan = service.plan(config(labels))
    tasks = [{"id": i, "data": {"image": str(path)}} for i, (path, _) in enumerate(items)]
    outcomes = service.predict(tasks, plan, label_studio=None)
    right, confusions = Counter(), Counter()
    per_class = Counter(label for _, label in items)
    for (_, truth), outcome in zip(items, outcomes, strict=True):
        guess = outcome.result[0]["value"]["choices"][0] if outcome.result else None
        if guess == truth:
            right[truth] += 1
        else:
            confusions[(truth, guess)] += 1
    total = sum(right.values())
    lines = [
        f"  accuracy {total}/{len(items)} = {total / len(items):.1%} over {len(labels)} "
        f"classes (chance {1 / len(labels):.1%})"
    ]
    lines += [f"    {label}: {right[label]}/{n}" for label, n in sorted(per_class.items())]
    return lines, confusions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true", help="append to benchmarks/RESULTS.md")
    args = parser.parse_args()
    if not ROOT.is_dir():
        raise SystemExit(f"{ROOT} missing: apt-get install tuxpaint-stamps-default")
    lines = [machine_line(), f"data: Debian tuxpaint-stamps-default, {ROOT}"]
    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings(
            data_dir=Path(tmp), io={"local_roots": [ROOT]}, embedding={"kind": "backbone"}
        )
        with FeatureStore(settings.store_path) as store:
            service = PredictionService(settings, make_predictor(settings), store)
            try:
                for title, items in (
                    ("coarse (folder = label)", coarse_set()),
                    ("species (file name = label)", species_set()),
                ):
                    result, confusions = evaluate(service, items)
                    common = ", ".join(f"{t}->{g}: {n}" for (t, g), n in confusions.most_common(6))
                    lines += [f"{title}:", *result, f"  most common errors: {common}"]
            finally:
                service.close()
    print("\n".join(lines))
    if args.record:
        record_result("ImageNet zero-shot stand-in: accuracy on tuxpaint photos", lines)


if __name__ == "__main__":
    main()
