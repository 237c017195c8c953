"""Backbones from smp / timm (``tu-<timm name>``), with weights from ImageNet or a local file."""

from __future__ import annotations

import logging
from pathlib import Path

import segmentation_models_pytorch as smp
from torch import Tensor, nn

from pixl.errors import CheckpointError, ConfigError, one_line
from pixl.models.packaged import PACKAGED_IMAGENET, lite_to_timm, timm_packaged_name
from pixl.models.weights import load_pretrained, load_state, read_state_dict

log = logging.getLogger(__name__)

# smp encoders return depth+1 maps at strides 1, 2, 4, 8, 16, 32; the decoders use the last four.
# (MiT's stride-2 map is empty: out_channels [3, 0, 32, 64, 160, 256] for mit_b0.)
NUM_LEVELS = 4
_HEAD_LAYERS = ("conv_head", "bn2", "classifier")


def build_encoder(
    name: str, weights: str | Path | None = None, *, output_stride: int = 32
) -> nn.Module:
    """An smp encoder (any smp name, or ``tu-<timm name>``) with its weights.

    weights: None (random init), ``"imagenet"`` (from the installed weights package for the encoders
    of ``PACKAGED_IMAGENET``, e.g. ``tu-tf_efficientnet_lite0``; else the smp/timm hub, which needs
    the network or a warm cache), or the path of a local file (smp/timm state dict, official MiT ``.pth``, safetensors).
    """
    is_file = weights is not None and weights != "imagenet"
    packaged = timm_packaged_name(name) if weights == "imagenet" else None
    hub_weights: str | bool | None = None if is_file or packaged else weights
    if hub_weights == "imagenet" and name.startswith("tu-"):
        hub_weights = True  # timm names the pretrained tag in the model name itself
    try:
        encoder = smp.encoders.get_encoder(name, weights=hub_weights, output_stride=output_stride)
    except KeyError as error:
        if "Wrong encoder name" not in str(error):
            raise ConfigError(f"encoder {name!r}: {one_line(str(error).strip(chr(34)))}") from None
        valid = ", ".join(sorted(smp.encoders.get_encoder_names())[:12])
        raise ConfigError(
            f"encoder: unknown name {name!r}; expected an smp encoder ({valid}, ...) "
            "or 'tu-<timm model name>'"
        ) from None
    except (RuntimeError, ValueError, AttributeError) as error:
        first = one_line(error)
        raise ConfigError(f"encoder {name!r} (output_stride={output_stride}): {first}") from None
    except OSError as error:  # hub download refused or offline
        first = one_line(error)
        raise CheckpointError(
            f"encoder {name!r}: cannot fetch {weights!r} weights ({first}); "
            "pass the path of a local weights file instead"
        ) from None
    if packaged is not None:
        load_packaged_imagenet(encoder, name, packaged)
    if is_file:
        report = load_pretrained(encoder, weights)  # type: ignore[arg-type]
        log.info(
            "encoder %s: weights from %s (%d missing keys)", name, weights, len(report.missing)
        )
    return encoder


def load_packaged_imagenet(encoder: nn.Module, name: str, timm_name: str) -> None:
    """ImageNet weights of ``timm_name`` from their installed package, renamed to timm's layers."""
    path = PACKAGED_IMAGENET[timm_name].path(name)
    state = lite_to_timm(read_state_dict(path), [len(s) for s in encoder.model.blocks])
    # The segmentation encoder has no classification head (conv_head, bn2, classifier).
    # smp's timm wrapper holds the model as ``model``.
    features = {f"model.{k}": v for k, v in state.items() if k.split(".")[0] not in _HEAD_LAYERS}
    report = load_state(encoder, features, str(path))
    if report.missing or report.unexpected or report.mismatched:
        raise CheckpointError(f"encoder {name!r}: {path} does not fit timm's {timm_name}")
    log.info("encoder %s: ImageNet weights from %s", name, path)


def level_channels(encoder: nn.Module) -> list[int]:
    """Channels of the four maps at strides 4, 8, 16, 32 (or dilated equivalents)."""
    return list(encoder.out_channels[-NUM_LEVELS:])


def encode_levels(encoder: nn.Module, images: Tensor) -> list[Tensor]:
    """The four encoder maps a decoder uses.

    Shape: images [B, 3, H, W] -> [B, c_i, H/s_i, W/s_i] for s_i = 4, 8, 16, 32.
    """
    return list(encoder(images)[-NUM_LEVELS:])
