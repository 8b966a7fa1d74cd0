"""Model versions are stable, readable, and change whenever predictions would."""

from __future__ import annotations

from winnow.labelstudio.controls.parse import parse_label_config
from winnow.zeroshot.version import model_version

DESCRIBE = {"model": "clip:ViT-B-32@laion2b_s34b_b79k", "templates": ["a photo of a {}."]}


def version(xml: str, *, describe=DESCRIBE, threshold: float = 0.3) -> str:
    return model_version(describe, "clip", parse_label_config(xml), threshold=threshold)


def test_readable_and_stable(make_config):
    xml = make_config('value="cat"', 'value="dog"')
    first = version(xml)
    assert first.startswith("clip-ViT-B-32-laion2b_s34b_b79k@")
    assert len(first.rsplit("@", 1)[1]) == 10
    assert version(xml) == first
    spaced = xml.replace("<Choice ", "\n   <Choice ")  # same meaning, other text
    assert version(spaced) == first


def test_changes_with_classes_prompts_templates_model_and_threshold(make_config):
    base = make_config('value="cat"', 'value="dog"')
    multi = make_config('value="cat"', 'value="dog"', multiple=True)
    variants = {
        version(base),
        version(make_config('value="cat"', 'value="dog"', 'value="bird"')),
        version(make_config('value="cat"', 'value="dog" hint="a puppy"')),
        version(make_config('value="dog"', 'value="cat"')),
        version(base, describe={**DESCRIBE, "templates": ["itap of a {}."]}),
        version(base, describe={**DESCRIBE, "model": "clip:ViT-L-14@openai"}),
        version(multi),
        version(multi, threshold=0.5),
    }
    assert len(variants) == 8
    assert version(base, threshold=0.9) == version(base)  # single choice ignores it
