"""Strong photometric augmentation of a batch of normalised images, on any device.

Colour jitter (brightness, contrast, saturation, hue 0.2) with probability 0.8 and Gaussian blur
(sigma in [0.15, 1.15], kernel about 10 % of the side, odd) with probability 0.5, per image
(DACS / DAFormer, docs/design.md, "The baseline PiXL builds on"). All randomness comes from the
given ``torch.Generator``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from pixl.data.transforms import denormalize, renormalize

_GRAY = (0.299, 0.587, 0.114)


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=generator.device) * (high - low) + low


def _gray(images: torch.Tensor) -> torch.Tensor:
    """Luma. Shape: [B, 3, H, W] -> [B, 1, H, W]."""
    weights = images.new_tensor(_GRAY).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


def _rgb_to_hsv(images: torch.Tensor) -> torch.Tensor:
    """Shape: [B, 3, H, W] RGB in [0, 1] -> [B, 3, H, W] HSV, hue in [0, 1)."""
    r, g, b = images.unbind(dim=1)
    value, _ = images.max(dim=1)
    delta = value - images.min(dim=1).values
    saturation = torch.where(value > 0, delta / value.clamp_min(1e-12), torch.zeros_like(value))
    safe = delta.clamp_min(1e-12)
    hue = torch.where(
        value == r,
        (g - b) / safe,
        torch.where(value == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe),
    )
    hue = torch.where(delta > 0, (hue / 6.0) % 1.0, torch.zeros_like(hue))
    return torch.stack([hue, saturation, value], dim=1)


def _hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """Shape: [B, 3, H, W] HSV -> [B, 3, H, W] RGB."""
    hue, saturation, value = hsv.unbind(dim=1)
    k = (
        torch.tensor([5.0, 3.0, 1.0], device=hsv.device, dtype=hsv.dtype).view(1, 3, 1, 1)
        + hue.unsqueeze(1) * 6.0
    ) % 6.0
    weight = torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)
    return value.unsqueeze(1) - (value * saturation).unsqueeze(1) * weight


def shift_hue(images: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue of each image by ``shift`` (fraction of the colour wheel).

    Shape: images [B, 3, H, W] in [0, 1], shift [B] -> [B, 3, H, W].
    """
    hsv = _rgb_to_hsv(images)
    hue = (hsv[:, 0] + shift.view(-1, 1, 1)) % 1.0
    return _hsv_to_rgb(torch.stack([hue, hsv[:, 1], hsv[:, 2]], dim=1))


def color_jitter(
    images: torch.Tensor, strength: float, apply: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Brightness, contrast, saturation, hue jitter of ``strength`` on images where ``apply``.

    Shape: images [B, 3, H, W] in [0, 1], apply [B] bool -> [B, 3, H, W].
    """
    batch = images.shape[0]
    device = images.device
    factors = [_uniform(batch, 1 - strength, 1 + strength, generator).to(device) for _ in range(3)]
    hue = _uniform(batch, -strength, strength, generator).to(device)
    brightness, contrast, saturation = (f.view(-1, 1, 1, 1) for f in factors)
    out = (images * brightness).clamp(0, 1)
    mean = _gray(out).mean(dim=(2, 3), keepdim=True)
    out = (contrast * out + (1 - contrast) * mean).clamp(0, 1)
    out = (saturation * out + (1 - saturation) * _gray(out)).clamp(0, 1)
    out = shift_hue(out, hue.to(out.dtype))
    return torch.where(apply.view(-1, 1, 1, 1), out, images)


def blur_kernel_size(height: int, width: int) -> int:
    """Odd kernel size of about 10 % of the shorter side (at least 3)."""
    size = max(3, math.ceil(0.1 * min(height, width)))
    return size if size % 2 == 1 else size + 1


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur, one sigma per image, reflect padding.

    Shape: images [B, C, H, W], sigma [B] -> [B, C, H, W].
    """
    batch, channels, height, width = images.shape
    size = blur_kernel_size(height, width)
    offsets = torch.arange(size, device=images.device, dtype=images.dtype) - size // 2
    kernel = torch.exp(-(offsets.view(1, -1) ** 2) / (2 * sigma.view(-1, 1).to(images) ** 2))
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(channels, dim=0)
    flat = images.reshape(1, batch * channels, height, width)
    pad = size // 2
    # Reflect needs pad < side; tiny images fall back to replicate.
    mode = "reflect" if pad < min(height, width) else "replicate"
    flat = F.conv2d(
        F.pad(flat, (pad, pad, 0, 0), mode=mode),
        kernel.view(-1, 1, 1, size),
        groups=batch * channels,
    )
    flat = F.conv2d(
        F.pad(flat, (0, 0, pad, pad), mode=mode),
        kernel.view(-1, 1, size, 1),
        groups=batch * channels,
    )
    return flat.reshape(batch, channels, height, width)


def strong_augment(
    images: torch.Tensor,
    *,
    generator: torch.Generator,
    jitter_strength: float = 0.2,
    jitter_p: float = 0.8,
    blur_p: float = 0.5,
    blur_sigma: tuple[float, float] = (0.15, 1.15),
) -> torch.Tensor:
    """Colour jitter (p ``jitter_p``) then Gaussian blur (p ``blur_p``) per image.

    Shape: images [B, 3, H, W] ImageNet-normalised -> [B, 3, H, W] ImageNet-normalised.
    """
    batch = images.shape[0]
    device = images.device
    pixels = denormalize(images).clamp(0, 1)
    jitter = (torch.rand(batch, generator=generator, device=generator.device) < jitter_p).to(device)
    pixels = color_jitter(pixels, jitter_strength, jitter, generator)
    blur = (torch.rand(batch, generator=generator, device=generator.device) < blur_p).to(device)
    sigma = _uniform(batch, blur_sigma[0], blur_sigma[1], generator).to(device)
    blurred = gaussian_blur(pixels, sigma)
    pixels = torch.where(blur.view(-1, 1, 1, 1), blurred, pixels)
    return renormalize(pixels)
