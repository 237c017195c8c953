"""Properties of the PiXL loss that must hold for any input (hypothesis)."""

import torch
from hypothesis import given
from hypothesis import strategies as st

from pixl.core import (
    IGNORE_INDEX,
    drift_alignment_terms,
    normalise_prototypes,
    pixl_loss,
    pixl_loss_with_stats,
)

from .reference import random_resolution

etas = st.sampled_from([0.0, 0.001, 0.2, 0.5, 1.0]) | st.floats(0.0, 1.0)
temperatures = st.sampled_from([0.07, 0.1, 0.5, 1.0])


@st.composite
def groups(draw, dtype=torch.float64):
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    batch = draw(st.integers(1, 3))
    classes = draw(st.integers(1, 6))
    dim = draw(st.integers(1, 8))
    ignore = draw(st.sampled_from([0.0, 0.3, 1.0]))
    low = random_resolution(
        g, batch, dim, classes, (draw(st.integers(1, 4)), draw(st.integers(1, 4))), ignore, dtype
    )
    high = None
    if draw(st.booleans()):
        high = random_resolution(
            g, batch, dim, classes, (draw(st.integers(1, 4)), 3), ignore, dtype
        )
    if draw(st.booleans()):  # a single class present
        for r in (low, high) if high is not None else (low,):
            labels = r[2]
            labels[labels != IGNORE_INDEX] = 0
    return low, high, classes


@given(groups(), etas, temperatures, st.booleans())
def test_never_nan_or_inf(group, eta, temperature, adaptive):
    low, high, classes = group
    low = (low[0].requires_grad_(), low[1], low[2])
    loss = pixl_loss(
        low,
        high,
        num_classes=classes,
        eta=eta,
        temperature=temperature,
        adaptive_selection=adaptive,
    )
    assert torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(low[0].grad).all()


@given(groups(), etas, temperatures)
def test_images_in_a_group_can_be_permuted(group, eta, temperature):
    low, high, classes = group
    order = torch.randperm(low[0].shape[0])

    def permute(r):
        return None if r is None else tuple(t[order] for t in r)

    a = pixl_loss(low, high, num_classes=classes, eta=eta, temperature=temperature)
    b = pixl_loss(
        permute(low), permute(high), num_classes=classes, eta=eta, temperature=temperature
    )
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@given(groups(), etas, temperatures)
def test_scaling_a_feature_vector_does_not_change_the_loss(group, eta, temperature):
    low, high, classes = group
    features = low[0].clone()
    features[:, :, 0, 0] *= 7.5
    scaled = (features, low[1], low[2])
    a = pixl_loss(low, high, num_classes=classes, eta=eta, temperature=temperature)
    b = pixl_loss(scaled, high, num_classes=classes, eta=eta, temperature=temperature)
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@given(st.integers(0, 2**31 - 1), st.sampled_from([0.2, 0.5]))
def test_gradient_reaches_drift_pixels_only(seed, eta):
    g = torch.Generator().manual_seed(seed)
    features, logits, labels = random_resolution(g, 2, 4, 3, (4, 4), ignore_fraction=0.0)
    features.requires_grad_()
    result = pixl_loss_with_stats(
        (features, logits, labels), None, num_classes=3, eta=eta, temperature=0.1
    )
    result.loss.backward()
    # Recompute the partition exactly as the loss does to know which pixels are joint.
    from pixl.core import masked_quantile, pixel_entropy

    entropy = pixel_entropy(torch.softmax(logits, 1), dim=1).reshape(2, -1)
    threshold = masked_quantile(entropy, torch.ones_like(entropy, dtype=torch.bool), 1 - eta)[
        :, None
    ]
    joint = (entropy < threshold).reshape(2, 4, 4)
    grad_norm = features.grad.norm(dim=1)
    assert (grad_norm[joint] == 0).all()
    # Every drift pixel has a prototype unless its class has no joint pixel in the group.
    class_has_joint = torch.zeros(3, dtype=torch.bool)
    class_has_joint[labels[joint].unique()] = True
    pulled = ~joint & class_has_joint[labels]
    if class_has_joint.sum() > 1:  # with one prototype, the InfoNCE is constant (log 1 = 0)
        assert (grad_norm[pulled] > 0).all()


@given(groups(dtype=torch.float32), etas)
def test_dtype_in_is_dtype_out(group, eta):
    low, high, classes = group
    for dtype in (torch.float32, torch.float64, torch.bfloat16):
        cast = tuple(t.to(dtype) if t.is_floating_point() else t for t in low)
        cast_high = (
            None
            if high is None
            else tuple(t.to(dtype) if t.is_floating_point() else t for t in high)
        )
        assert (
            pixl_loss(cast, cast_high, num_classes=classes, eta=eta, temperature=0.1).dtype == dtype
        )


def test_works_under_cpu_bf16_autocast():
    """Under bf16 autocast the loss and its gradient are the float32 ones up to bf16 rounding."""
    g = torch.Generator().manual_seed(0)
    low = random_resolution(g, 2, 8, 4, (6, 6), dtype=torch.float32)
    high = random_resolution(g, 2, 8, 4, (6, 6), dtype=torch.float32)
    conv = torch.nn.Conv2d(8, 8, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = conv(low[0])
        assert features.dtype == torch.bfloat16
        loss = pixl_loss((features, low[1], low[2]), high, num_classes=4, eta=0.3, temperature=0.1)
    assert loss.dtype == torch.bfloat16 and torch.isfinite(loss)
    loss.backward()
    grad = conv.weight.grad.clone()
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    # The same features in float32, outside autocast: same partition (the logits are unchanged),
    # so only bf16 rounding (relative step 2^-8) separates the two.
    conv.weight.grad = None
    reference = pixl_loss(
        (conv(low[0]), low[1], low[2]), high, num_classes=4, eta=0.3, temperature=0.1
    )
    assert reference.dtype == torch.float32
    torch.testing.assert_close(loss.float(), reference.detach(), rtol=1e-2, atol=0.0)
    reference.backward()
    cosine = torch.nn.functional.cosine_similarity(grad.flatten(), conv.weight.grad.flatten(), 0)
    assert cosine > 0.99


def test_gradcheck_of_the_differentiable_part():
    g = torch.Generator().manual_seed(3)
    features = torch.randn(2, 5, 7, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 4, (2, 7), generator=g)
    anchors = torch.rand(2, 7, generator=g) < 0.6
    prototypes = normalise_prototypes(torch.randn(4, 5, generator=g, dtype=torch.float64))
    present = torch.tensor([True, True, False, True])

    def loss_of(raw):
        unit = torch.nn.functional.normalize(raw, dim=1)
        total, count = drift_alignment_terms(
            unit, labels, anchors, prototypes, present, temperature=0.2
        )
        return total / count

    assert torch.autograd.gradcheck(loss_of, (features,))


def test_loss_gradient_is_the_alignment_gradient_with_fixed_prototypes():
    """The stop-gradient: pixl_loss's gradient equals that of DPA with prototypes as constants."""
    g = torch.Generator().manual_seed(11)
    features, logits, labels = random_resolution(g, 2, 5, 3, (3, 4), ignore_fraction=0.0)
    features.requires_grad_()
    pixl_loss((features, logits, labels), None, num_classes=3, eta=0.4, temperature=0.3).backward()
    grad = features.grad.clone()
    features.grad = None
    # Recompute prototypes as constants, then differentiate only the alignment.
    from pixl.core import class_feature_sums, masked_quantile, pixel_entropy

    flat = torch.nn.functional.normalize(features.reshape(2, 5, -1), dim=1)
    entropy = pixel_entropy(torch.softmax(logits.reshape(2, 3, -1), 1), dim=1)
    t = masked_quantile(entropy, torch.ones_like(entropy, dtype=torch.bool), 0.6)[:, None]
    y = labels.reshape(2, -1)
    sums, counts = class_feature_sums(flat.detach(), y, entropy < t, 3)
    present = counts > 0
    anchors = (entropy >= t) & present[y]
    total, count = drift_alignment_terms(flat, y, anchors, normalise_prototypes(sums), present, 0.3)
    (total / count).backward()
    torch.testing.assert_close(grad, features.grad)
