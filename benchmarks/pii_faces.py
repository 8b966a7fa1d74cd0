"""PII faces: MTCNN (the default) vs OpenCV's Haar cascade, on real photos that install offline.

Three hand-labelled sets, image level ("does a real human face show?"):

- ``photos``: real photos with and without people from scikit-image, Debian
  ``labelme-examples`` and ``opencv-doc``, labelled by looking at each one. A face counts
  when it is a real person's face at least about 20 pixels tall; people seen from behind or
  a few pixels tall (the labelme street frame) count as "no face". Drawn faces are not PII.
- ``demo``: the demo data set (Tux Paint animal cut-outs, ``winnow samples --which demo``):
  no human faces, several cartoon animals with faces. Every detection is a false positive.
- ``lfw``: scikit-image's ``lfw_subset``, 100 face crops and 100 non-face crops of 25x25
  pixels, scaled up 4x (the data set's own labels).

Per set: true/false positives per image, precision and recall at the image level, and
milliseconds per image (decode excluded), each detector in its default configuration.
Small sets: read the ratios, not the decimals.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from _common import machine_line, record_result
from PIL import Image

from winnow.detection.base import Detector
from winnow.detection.faces import HaarFaceDetector
from winnow.detection.mtcnn import MTCNNFaceDetector

LABELME = Path("/usr/share/doc/labelme-examples/examples")
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
OPENCV_HTML = Path("/usr/share/doc/opencv-doc/opencv4/html")

# (source, name) -> has a real human face; labelled by eye, see the module docstring
PHOTOS: dict[tuple[str, str], bool] = {
    ("skimage", "astronaut"): True,
    ("skimage", "camera"): True,  # a profile behind a camera: hard for both
    ("labelme", "bbox_detection/data_annotated/2011_000003.jpg"): True,
    ("labelme", "bbox_detection/data_annotated/2011_000006.jpg"): True,
    ("opencv", "messi5.jpg"): True,  # a footballer, face about 20 px, crowd behind
    ("opencv", "basketball1.png"): True,
    ("opencv-html", "facereg.jpg"): True,  # four portraits with landmark dots drawn on
    ("opencv-html", "face_swapped.jpg"): True,
    ("opencv-html", "Canny_Detector_Tutorial_Original_Image.jpg"): True,  # two pilots
    ("skimage", "chelsea"): False,
    ("skimage", "coffee"): False,
    ("skimage", "rocket"): False,
    ("skimage", "hubble_deep_field"): False,
    ("skimage", "horse"): False,
    ("labelme", "classification/data_annotated/0001.jpg"): False,  # a kitten
    ("labelme", "classification/data_annotated/0002.jpg"): False,  # a black dog
    ("labelme", "bbox_detection/data_annotated/2011_000025.jpg"): False,  # a bus
    ("labelme", "tutorial/apc2016_obj3.jpg"): False,
    ("labelme", "video_annotation/data_annotated/00000100.jpg"): False,  # street, tiny people
    ("opencv", "baboon.jpg"): False,
    ("opencv", "fruits.jpg"): False,
    ("opencv", "squirrel_cls.jpg"): False,
    ("opencv", "home.jpg"): False,
    ("opencv", "butterfly.jpg"): False,
    ("opencv-html", "HDRtoneMapping_memorialSample.jpg"): False,
    ("opencv-html", "pexels_double_decker_bus.jpg"): False,
    ("opencv-html", "space_shuttle.jpg"): False,
    ("opencv-html", "boat.jpg"): False,
    ("opencv-html", "Pyramids_Tutorial_Original_Image.jpg"): False,  # a dog
    ("opencv-html", "Harris_Detector_Original_Image.jpg"): False,  # a dog
    ("opencv-html", "Remap_Tutorial_Original_Image.jpg"): False,  # cows
    ("opencv-html", "Histogram_Calculation_Original_Image.jpg"): False,  # cows
}


def _rgb(image: Image.Image) -> np.ndarray:
    """RGB pixels, transparent cut-outs on white (as a reviewer sees them)."""
    image = image.convert("RGBA")
    canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
    canvas.alpha_composite(image)
    return np.asarray(canvas.convert("RGB"))


def photos() -> Iterator[tuple[str, np.ndarray, bool]]:
    from skimage import data

    roots = {"labelme": LABELME, "opencv": OPENCV_DATA, "opencv-html": OPENCV_HTML}
    for (source, name), has_face in PHOTOS.items():
        if source == "skimage":
            yield name, _rgb(Image.fromarray(getattr(data, name)())), has_face
        elif (roots[source] / name).is_file():
            with Image.open(roots[source] / name) as image:
                yield Path(name).stem, _rgb(image), has_face


def demo(folder: Path) -> Iterator[tuple[str, np.ndarray, bool]]:
    if not folder.is_dir():
        from winnow.samples import build_demo

        build_demo(folder)
    for path in sorted(folder.rglob("*.png")):
        try:
            with Image.open(path) as image:
                yield path.stem, _rgb(image), False
        except (OSError, Image.DecompressionBombError):  # the demo mixes in broken files
            continue


def lfw() -> Iterator[tuple[str, np.ndarray, bool]]:
    from skimage import data

    crops = data.lfw_subset()  # first 100 faces, then 100 non-faces
    for i, crop in enumerate(crops):
        image = Image.fromarray((crop * 255).astype(np.uint8)).resize((100, 100), Image.BICUBIC)
        yield f"lfw{i}", _rgb(image), i < 100


def run(detector: Detector, images: list[tuple[str, np.ndarray, bool]]) -> tuple[list, float]:
    detector.detect([images[0][1]])  # warm-up
    found, start = [], time.perf_counter()
    for _, pixels, _ in images:
        found.append(len(detector.detect([pixels])[0].confident(0.5)))
    return found, (time.perf_counter() - start) * 1000 / len(images)


def score(found: list[int], truth: list[bool]) -> dict[str, float]:
    tp = sum(1 for f, t in zip(found, truth, strict=True) if f and t)
    fp = sum(1 for f, t in zip(found, truth, strict=True) if f and not t)
    positives = sum(truth)
    return {
        "tp": tp,
        "fp": fp,
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "recall": tp / positives if positives else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-dir", type=Path, default=Path(".winnow-bench/pii-demo"))
    parser.add_argument("--record", action="store_true", help="write benchmarks/RESULTS.md")
    args = parser.parse_args()
    detectors = {"haar": HaarFaceDetector(), "mtcnn": MTCNNFaceDetector()}
    sets = {"photos": list(photos()), "demo": list(demo(args.demo_dir)), "lfw": list(lfw())}
    lines = [
        machine_line() + ", shared/loaded (other jobs on the 2 cores)",
        "image level: an image is positive when the detector finds >= 1 face at score >= 0.5",
        "",
        f"{'set':8} {'images':>6} {'faces':>5} {'detector':8} {'TP':>3} {'FP':>3} "
        f"{'precision':>9} {'recall':>6} {'ms/img':>7}",
    ]
    misses: list[str] = []
    for set_name, images in sets.items():
        truth = [t for _, _, t in images]
        speed = {}
        for det_name, detector in detectors.items():
            found, ms = run(detector, images)
            speed[det_name] = ms
            s = score(found, truth)
            lines.append(
                f"{set_name:8} {len(images):6d} {sum(truth):5d} {det_name:8} {s['tp']:3d} "
                f"{s['fp']:3d} {s['precision']:9.2f} {s['recall']:6.2f} {ms:7.1f}"
            )
            if set_name != "lfw":
                wrong = [n for (n, _, t), f in zip(images, found, strict=True) if bool(f) != t]
                misses.append(f"{set_name}/{det_name} wrong: {', '.join(wrong) or '-'}")
        lines.append(f"{'':8} mtcnn/haar time ratio {speed['mtcnn'] / speed['haar']:.2f}")
    lines += ["", *misses]
    print("\n".join(lines))
    if args.record:
        record_result("PII faces: MTCNN vs Haar cascade", lines)


if __name__ == "__main__":
    main()
