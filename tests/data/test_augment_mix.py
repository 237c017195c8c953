"""Strong augmentation and ClassMix on batched tensors."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from pixl.core import IGNORE_INDEX
from pixl.data import class_mix, denormalize, renormalize, strong_augment
from pixl.data.augment import blur_kernel_size, gaussian_blur, shift_hue


def images(batch: int = 4, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return renormalize(torch.rand(batch, 3, size, size, generator=g))


def test_strong_augment_is_seeded_and_keeps_shape() -> None:
    x = images()
    a = strong_augment(x, generator=torch.Generator().manual_seed(1))
    b = strong_augment(x, generator=torch.Generator().manual_seed(1))
    c = strong_augment(x, generator=torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.dtype == x.dtype
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    pixels = denormalize(a)
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5


def test_probabilities_zero_is_identity_and_jitter_rate_matches() -> None:
    x = images(batch=8)
    g = torch.Generator().manual_seed(0)
    same = strong_augment(x, generator=g, jitter_p=0.0, blur_p=0.0)
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    many = images(batch=400, size=8)
    out = strong_augment(many, generator=g, blur_p=0.0)
    changed = ((out - many).abs().amax(dim=(1, 2, 3)) > 1e-4).float().mean().item()
    assert 0.74 < changed < 0.86  # p = 0.8


def test_gaussian_blur_matches_torchvision() -> None:
    x = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    sigma = torch.tensor([0.4, 1.1])
    ours = gaussian_blur(x, sigma)
    size = blur_kernel_size(40, 40)
    assert size == 5 and blur_kernel_size(100, 64) == 7
    for i in range(2):
        ref = TF.gaussian_blur(x[i], [size, size], [float(sigma[i])] * 2)
        torch.testing.assert_close(ours[i], ref, atol=1e-5, rtol=0)


def test_strong_augment_float64_and_tiny_images() -> None:
    x = images(batch=2, size=4).double()
    out = strong_augment(x, generator=torch.Generator().manual_seed(0), jitter_p=1.0, blur_p=1.0)
    assert out.dtype == torch.float64 and out.shape == x.shape and torch.isfinite(out).all()


def mix_inputs():
    source_labels = (
        torch.tensor([[0, 0, 1, 1], [2, 2, IGNORE_INDEX, 3]]).view(1, 2, 4).repeat(2, 1, 1)
    )
    source_labels[1] = torch.tensor([[5, 6, 7, 8], [IGNORE_INDEX] * 4])
    source = torch.arange(2 * 3 * 2 * 4, dtype=torch.float32).view(2, 3, 2, 4)
    target = -torch.ones(2, 3, 2, 4)
    pseudo = torch.full((2, 2, 4), 9)
    return source, source_labels, target, pseudo


def test_class_mix_pastes_half_of_each_images_classes() -> None:
    source, labels, target, pseudo = mix_inputs()
    out = class_mix(
        source,
        labels,
        target,
        pseudo,
        torch.tensor([0.3, 0.6]),
        generator=torch.Generator().manual_seed(0),
    )
    mask = out["mask"]
    for b, n_classes in enumerate((4, 4)):
        pasted = labels[b][mask[b]].unique()
        assert len(pasted) == (n_classes + 1) // 2
        # a class is pasted whole or not at all, and ignore never is
        for c in labels[b].unique():
            region = mask[b][labels[b] == c]
            assert region.all() or not region.any()
        assert not mask[b][labels[b] == IGNORE_INDEX].any()
    torch.testing.assert_close(out["image"], torch.where(mask[:, None], source, target))
    assert torch.equal(out["label"], torch.where(mask, labels, pseudo))
    expected_weight = torch.where(mask, 1.0, torch.tensor([0.3, 0.6]).view(2, 1, 1))
    torch.testing.assert_close(out["weight"], expected_weight)


def test_class_mix_pixel_weights_and_odd_class_count() -> None:
    source, labels, target, pseudo = mix_inputs()
    labels[0] = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 2]])  # 3 classes -> 2 pasted
    weights = torch.rand(2, 2, 4, generator=torch.Generator().manual_seed(0))
    out = class_mix(
        source, labels, target, pseudo, weights, generator=torch.Generator().manual_seed(3)
    )
    assert len(labels[0][out["mask"][0]].unique()) == 2
    torch.testing.assert_close(out["weight"], torch.where(out["mask"], 1.0, weights))


def test_class_mix_all_ignored_source_pastes_nothing() -> None:
    source, labels, target, pseudo = mix_inputs()
    labels[:] = IGNORE_INDEX
    out = class_mix(source, labels, target, pseudo, torch.ones(2), generator=torch.Generator())
    assert not out["mask"].any() and torch.equal(out["label"], pseudo)


def test_class_mix_is_seeded() -> None:
    source, labels, target, pseudo = mix_inputs()
    masks = [
        class_mix(
            source,
            labels,
            target,
            pseudo,
            torch.ones(2),
            generator=torch.Generator().manual_seed(s),
        )["mask"]
        for s in (5, 5)
    ]
    assert torch.equal(*masks)


def test_hue_shift_matches_torchvision() -> None:
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    shifts = torch.tensor([-0.2, 0.05, 0.17])
    ours = shift_hue(x, shifts)
    for i in range(3):
        torch.testing.assert_close(
            ours[i], TF.adjust_hue(x[i], float(shifts[i])), atol=1e-5, rtol=0
        )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batched_ops_on_cuda_match_cpu() -> None:
    x, device = images(batch=3), torch.device("cuda")
    cpu = strong_augment(x, generator=torch.Generator().manual_seed(0))
    gpu = strong_augment(x.to(device), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=0)
    source, labels, target, pseudo = mix_inputs()
    out = class_mix(
        *(t.to(device) for t in (source, labels, target, pseudo)),
        torch.ones(2, device=device),
        generator=torch.Generator(device).manual_seed(0),
    )
    assert out["mask"].device.type == "cuda" and out["mask"].any()
