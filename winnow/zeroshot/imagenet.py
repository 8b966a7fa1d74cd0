"""The offline stand-in for CLIP: the ImageNet backbone's softmax, regrouped by class name.

No CLIP weights install offline, but the EfficientNet-Lite0 ImageNet weights do. A class
whose names map to ImageNet classes (:mod:`winnow.zeroshot.imagenet_names`) gets the
summed probability of those classes. Classes that map to nothing ("other", "background")
share what is left. Single choice renormalises over the labeling config's classes;
multiple choice keeps the absolute probabilities, so the threshold means the same thing
whatever the other classes are. Only as good as ImageNet's coverage of the class names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from winnow.labelstudio.controls.choices import ChoicesControl
from winnow.labelstudio.controls.parse import WORKING_EXAMPLE, LabelConfigError
from winnow.models.backbone import BackboneEmbedder
from winnow.models.embedder import prepare_image
from winnow.zeroshot.imagenet_names import MAPPING_VERSION, imagenet_classes


class ImageNetProbabilities:
    """The backbone's 1000-way ImageNet softmax as a per-image vector the store can cache."""

    def __init__(self, backbone: BackboneEmbedder) -> None:
        self.backbone = backbone
        self.model_id = f"{backbone.model_id}+imagenet-softmax"
        self.dim = backbone.num_classes
        self.input_spec = backbone.input_spec

    def embed_arrays(self, batch: np.ndarray) -> np.ndarray:
        return self.backbone.classify_arrays(batch)

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        arrays = [prepare_image(image, self.input_spec) for image in images]
        return self.embed_arrays(np.stack(arrays)) if arrays else np.zeros((0, self.dim))


@dataclass(frozen=True)
class ImageNetHead:
    weights: np.ndarray  # float32 (1000, K): share of each ImageNet class going to each class
    unmapped: tuple[str, ...]  # labels of classes that no ImageNet class maps to


class ImageNetZeroShot:
    name = "imagenet"

    def __init__(self, backbone: BackboneEmbedder) -> None:
        self.feature_model = ImageNetProbabilities(backbone)

    def describe(self) -> dict[str, Any]:
        return {"model": self.feature_model.backbone.model_id, "mapping": MAPPING_VERSION}

    def class_head(self, control: ChoicesControl) -> ImageNetHead:
        """Map classes to ImageNet classes. An ImageNet class claimed by several classes goes
        to the narrowest claim ("tabby" over "cat"); equally narrow claims share it."""
        found = [{i for p in c.prompts for i in imagenet_classes(p)} for c in control.classes]
        if not any(found):
            raise LabelConfigError(
                f'none of the classes {control.labels} of <Choices name="{control.from_name}">'
                " is an ImageNet class name, so the offline ImageNet predictor cannot score "
                "them. Name ImageNet classes in predicted_values (WordNet lemmas or ids), e.g. "
                '<Choice value="Cat" predicted_values="tabby cat,Egyptian cat"/>, or use CLIP '
                "(WINNOW_EMBEDDING__KIND=clip with WINNOW_EMBEDDING__CLIP_CHECKPOINT=/path). "
                f"A config that works:\n{WORKING_EXAMPLE}"
            )
        dim = self.feature_model.dim
        weights = np.zeros((dim, len(found)), dtype=np.float32)
        for index in set().union(*found):
            claims = [k for k, members in enumerate(found) if index in members]
            narrowest = min(len(found[k]) for k in claims)
            owners = [k for k in claims if len(found[k]) == narrowest]
            weights[index, owners] = 1.0 / len(owners)
        unmapped = tuple(c.label for k, c in enumerate(control.classes) if not weights[:, k].any())
        return ImageNetHead(weights, unmapped)

    def probabilities(
        self, features: np.ndarray, head: ImageNetHead, *, multiple: bool
    ) -> np.ndarray:
        mass = (features @ head.weights).astype(np.float32)
        empty = np.flatnonzero(~head.weights.any(axis=0))
        if len(empty):  # classes ImageNet cannot see share whatever the mapped ones leave
            rest = np.clip(1.0 - mass.sum(axis=1, keepdims=True), 0.0, 1.0)
            mass[:, empty] = rest / len(empty)
        if not multiple:
            mass /= mass.sum(axis=1, keepdims=True).clip(min=1e-12)
        return np.clip(mass, 0.0, 1.0)

    def warnings(self, head: ImageNetHead) -> list[str]:
        if not head.unmapped:
            return []
        return [
            f"classes {list(head.unmapped)} match no ImageNet class; they share the probability "
            "the mapped classes leave. Add predicted_values with ImageNet names to map them."
        ]
