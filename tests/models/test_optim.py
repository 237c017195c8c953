import pytest
import torch

from pixl.models import param_groups

from .tiny import tiny_model


def test_groups_split_encoder_head_and_no_decay():
    model = tiny_model("hrda")
    groups = {g["name"]: g for g in param_groups(model, lr=6e-5, weight_decay=0.01)}
    assert set(groups) == {"encoder", "encoder_no_decay", "head", "head_no_decay"}
    assert groups["encoder"]["lr"] == 6e-5 and groups["head"]["lr"] == pytest.approx(6e-4)
    assert groups["encoder"]["weight_decay"] == 0.01
    assert (
        groups["head_no_decay"]["weight_decay"] == groups["encoder_no_decay"]["weight_decay"] == 0
    )
    ids = lambda name: {id(p) for p in groups[name]["params"]}  # noqa: E731
    named = dict(model.named_parameters())
    assert id(named["base.encoder.block1.0.norm1.weight"]) in ids("encoder_no_decay")
    assert id(named["base.encoder.patch_embed1.proj.weight"]) in ids("encoder")
    assert id(named["attention_decoder.fusion.1.weight"]) in ids("head_no_decay")  # BatchNorm
    assert id(named["base.classifier.weight"]) in ids("head")


def test_every_trainable_parameter_in_exactly_one_group():
    model = tiny_model("deeplabv3plus")
    model.encoder.conv1.weight.requires_grad_(False)
    groups = param_groups(model, lr=1e-3, weight_decay=0.01, head_lr_mult=5.0)
    listed = [id(p) for g in groups for p in g["params"]]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert sorted(listed) == sorted(trainable) and len(set(listed)) == len(listed)
    assert sorted({g["lr"] for g in groups}) == pytest.approx([1e-3, 5e-3])
    torch.optim.AdamW(groups)  # accepted as is
