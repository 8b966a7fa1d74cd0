"""Batch-norm folding: same outputs, fewer ops, and a safety net when pairing is wrong."""

from __future__ import annotations

import timm
import torch
from torch import nn

from winnow.models import InputSpec, prepare_image
from winnow.models.backbone import shipped_weights_path
from winnow.models.fold import fold_batchnorm, fold_batchnorm_checked


def lite0() -> nn.Module:
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    raw = torch.load(shipped_weights_path(), weights_only=True)
    model.load_state_dict(dict(zip(model.state_dict(), raw.values(), strict=True)))
    return model.eval()


def test_folding_lite0_keeps_its_logits(photos):
    model = lite0()
    image = prepare_image(photos["chelsea"], InputSpec(224))
    x = (torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() - 127) / 128
    with torch.inference_mode():
        expected = model(x)
        folded = fold_batchnorm_checked(model, size=64)
        got = folded(x)
    assert folded is not model
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_counts_every_conv_bn_pair():
    # EfficientNet-Lite0 has 49 batch norms, each right after its convolution.
    assert fold_batchnorm(lite0()) == 49


class MisleadingOrder(nn.Module):
    """``bn`` is registered right after ``conv`` but normalises the input, not conv's output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-1, 1)
            self.bn.running_var.uniform_(0.5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.bn(x))


def test_checked_folding_keeps_the_original_when_outputs_change():
    torch.manual_seed(0)
    model = MisleadingOrder().eval()
    assert fold_batchnorm_checked(model, size=16) is model
    assert isinstance(model.bn, nn.BatchNorm2d)  # the original was not modified
