"""self_training.teacher_norm: "train" normalises the teacher's BatchNorm with the target batch's
statistics (DACS / HRDA) without touching its buffers or turning dropout on."""

from __future__ import annotations

import torch
from torch import nn

from pixl.config.schema import Margins, SelfTrainingConfig
from pixl.engine.tasks import SelfTraining
from pixl.engine.tasks.pseudo import teacher_pseudo_labels
from pixl.engine.teacher import EMATeacher, batch_statistics
from pixl.models import create_model

from .test_staged_backward import batch


def tiny_model(name: str) -> nn.Module:
    """The tiny DeepLabV3+ of tests/models/tiny.py (random ResNet-18, 64-d embedding)."""
    torch.manual_seed(0)
    return create_model(name, 5, encoder="resnet18", embed_dim=64)


def _skew_running_stats(module: nn.Module) -> None:
    """Running statistics far from any batch's, so eval and batch norm disagree."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.fill_(3.0)
            m.running_var.fill_(0.05)


def _buffers(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.named_buffers()}


def test_batch_statistics_on_a_small_bn_model() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.Conv2d(4, 2, 1)
    )
    _skew_running_stats(model)
    model.eval()
    x = torch.randn(2, 3, 5, 5)
    before = _buffers(model)
    with torch.no_grad():
        eval_out = model(x)
        with batch_statistics(model):
            first, second = model(x), model(x)
        after_block = model(x)
    assert not torch.allclose(first, eval_out)
    assert torch.equal(first, second)  # dropout stays off
    assert not model.training and not model[1].training
    # Exactly a batch-statistics BatchNorm (biased variance, as in training).
    hidden = model[0](x)
    mean = hidden.mean(dim=(0, 2, 3), keepdim=True)
    var = hidden.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
    norm = model[1]
    manual = (hidden - mean) / torch.sqrt(var + norm.eps) * norm.weight[:, None, None] + norm.bias[
        :, None, None
    ]
    torch.testing.assert_close(first, model[3](manual))
    after = _buffers(model)
    assert all(torch.equal(before[k], after[k]) for k in before)  # bit-identical buffers
    assert torch.equal(after_block, eval_out)  # the block leaves eval behaviour as it was


def test_train_norm_changes_the_pseudo_labels_of_a_tiny_deeplab() -> None:
    teacher = tiny_model("deeplabv3plus").eval()
    _skew_running_stats(teacher)
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    before = _buffers(teacher)
    eval_pseudo = teacher_pseudo_labels(teacher, images, 0.5, Margins())
    with batch_statistics(teacher):
        train_pseudo = teacher_pseudo_labels(teacher, images, 0.5, Margins())
        again = teacher_pseudo_labels(teacher, images, 0.5, Margins())
    assert not torch.allclose(train_pseudo.confidence, eval_pseudo.confidence)
    assert torch.equal(train_pseudo.confidence, again.confidence)
    after = _buffers(teacher)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_batch_one_on_the_tiny_deeplab_uses_running_stats_where_one_value_per_channel() -> None:
    teacher = tiny_model("deeplabv3plus").eval()
    image = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad(), batch_statistics(teacher):
        logits = teacher(image).logits  # ASPP pooling's BN sees [1, C, 1, 1]
    assert logits.shape == (1, 5, 16, 16) and bool(torch.isfinite(logits).all())


def test_self_training_uses_the_configured_teacher_norm() -> None:
    student = tiny_model("deeplabv3plus")
    _skew_running_stats(student)
    stats = {}
    for norm in ("eval", "train"):
        teacher = EMATeacher(student)
        before = _buffers(teacher.module)
        config = SelfTrainingConfig(teacher_norm=norm, classmix=False, strong_augment=False)
        part = SelfTraining(config, teacher, student, torch.Generator().manual_seed(0))
        _, _, _, stats[norm] = part.mixed_inputs(batch())
        assert all(torch.equal(before[k], v) for k, v in _buffers(teacher.module).items())
        assert not teacher.module.training
    assert SelfTrainingConfig().teacher_norm == "eval"
    assert not torch.equal(stats["eval"]["pseudo/confidence"], stats["train"]["pseudo/confidence"])
