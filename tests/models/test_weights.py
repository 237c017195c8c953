import collections

import pytest
import torch
from safetensors.torch import save_file

from pixl.errors import CheckpointError
from pixl.models import build_encoder, create_model, load_pretrained, load_weights, save_weights

from .tiny import tiny_model


class Opaque:
    """Any Python object: pickled into a checkpoint, it must be refused, never executed."""


def same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("key", ["daformer", "hrda"])
def test_save_and_load_round_trip(key, tmp_path, images):
    model, other = tiny_model(key, seed=0).eval(), tiny_model(key, seed=1).eval()
    assert not same_state(model, other)
    save_weights(model, tmp_path / "weights.safetensors")
    load_weights(other, tmp_path / "weights.safetensors")
    assert same_state(model, other)
    with torch.no_grad():
        torch.testing.assert_close(other(images).logits, model(images).logits)


def test_load_weights_refuses_another_architecture(tmp_path):
    save_weights(tiny_model("daformer"), tmp_path / "w.safetensors")
    with pytest.raises(CheckpointError, match=r"w\.safetensors.*does not fit"):
        load_weights(tiny_model("deeplabv3plus"), tmp_path / "w.safetensors")


def test_mmseg_checkpoint_with_backbone_prefix(tmp_path):
    source = build_encoder("mit_b0")
    state = {f"backbone.{k}": v for k, v in source.state_dict().items()}
    state["decode_head.conv_seg.weight"] = torch.zeros(19, 256, 1, 1)
    torch.save({"meta": {"epoch": 3}, "state_dict": state}, tmp_path / "daformer.pth")
    target = build_encoder("mit_b0")
    report = load_pretrained(target, tmp_path / "daformer.pth")
    assert report.missing == [] and report.unexpected == ["decode_head.conv_seg.weight"]
    assert same_state(source, target)


def test_official_mit_file_drops_the_imagenet_classifier(tmp_path):
    source = build_encoder("mit_b0")
    state = collections.OrderedDict(source.state_dict())
    state["head.weight"], state["head.bias"] = torch.zeros(1000, 256), torch.zeros(1000)
    torch.save(state, tmp_path / "mit_b0.pth")
    model = create_model(
        "daformer", 3, encoder="mit_b0", encoder_weights=str(tmp_path / "mit_b0.pth")
    )
    assert same_state(source, model.encoder)


def test_safetensors_file_and_partial_report(tmp_path):
    source = build_encoder("resnet18")
    state = dict(source.state_dict())
    del state["layer4.1.bn2.bias"]
    state["fc.weight"] = torch.zeros(10, 512)
    state["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    save_file(state, str(tmp_path / "r18.safetensors"))
    report = load_pretrained(build_encoder("resnet18"), tmp_path / "r18.safetensors")
    assert report.missing == ["conv1.weight", "layer4.1.bn2.bias"]
    assert report.unexpected == ["fc.weight"]
    assert report.mismatched == ["conv1.weight: file (64, 3, 3, 3) vs model (64, 3, 7, 7)"]


def test_pickled_object_is_refused_with_one_line(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": build_encoder("mit_b0").state_dict(), "extra": Opaque()}, path)
    with pytest.raises(CheckpointError, match=r"evil\.pth.*pickled") as info:
        load_pretrained(build_encoder("mit_b0"), path)
    assert "\n" not in str(info.value)
    with pytest.raises(CheckpointError, match="pickled"):
        load_weights(build_encoder("mit_b0"), path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        (b"not a torch file", "not a readable"),
        ({"x": torch.zeros(2)}, "no tensor matches"),
    ],
)
def test_unusable_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "w.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(CheckpointError, match=message) as info:
        load_pretrained(build_encoder("mit_b0"), path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
