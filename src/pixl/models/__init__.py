"""Segmentation models: DAFormer, HRDA, DeepLabV3+ on smp/timm encoders, and their helpers.

Importing this package imports every model module, which registers its builder
(``@register_model``): ``list_models()`` then names all built-in models.
"""

from pixl.models.base import Segmentor
from pixl.models.contract import ModelBase, Predictor, SegmentationModel
from pixl.models.daformer import DAFormer, DAFormerDecoder
from pixl.models.deeplab import DeepLabV3Plus
from pixl.models.encoders import build_encoder
from pixl.models.fd import FeatureDistance, masked_distance, thing_mask
from pixl.models.hrda import HRDA, fuse_scales, sample_detail_box
from pixl.models.inference import predict_logits
from pixl.models.optim import param_groups
from pixl.models.projection import (
    ProjectionHead,
    WithProjection,
    warm_start_state,
    with_projection,
)
from pixl.models.registry import (
    create_model,
    list_models,
    model_options,
    register_model,
    set_activation_checkpointing,
    without_starting_weights,
)
from pixl.models.types import Box, HRDAOutput, SegmentationOutput, TrainOutput
from pixl.models.weights import (
    LoadReport,
    load_pretrained,
    load_weights,
    read_metadata,
    read_state_dict,
    save_weights,
)

__all__ = [
    "HRDA",
    "Box",
    "DAFormer",
    "DAFormerDecoder",
    "DeepLabV3Plus",
    "FeatureDistance",
    "HRDAOutput",
    "LoadReport",
    "ModelBase",
    "Predictor",
    "ProjectionHead",
    "SegmentationModel",
    "SegmentationOutput",
    "Segmentor",
    "TrainOutput",
    "WithProjection",
    "build_encoder",
    "create_model",
    "fuse_scales",
    "list_models",
    "load_pretrained",
    "load_weights",
    "masked_distance",
    "model_options",
    "param_groups",
    "predict_logits",
    "read_metadata",
    "read_state_dict",
    "register_model",
    "sample_detail_box",
    "save_weights",
    "set_activation_checkpointing",
    "thing_mask",
    "warm_start_state",
    "with_projection",
    "without_starting_weights",
]
