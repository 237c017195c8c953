"""The thing-class ImageNet feature distance (``fd`` section; UDA, eq. 17) on the labelled pass."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from torch import nn

from pixl.data import dataset_info
from pixl.engine.terms.base import LABELLED, LossTerm, Pass, PassName, TermContext, TermOutput
from pixl.models import FeatureDistance


class FeatureDistanceTerm:
    """``fd``: lambda_FD x the distance between the student's deep features of the source images
    and a frozen copy of the encoder's initial (ImageNet) weights, on thing-class cells."""

    with_pass = False

    def __init__(self, distance: nn.Module) -> None:
        self.distance = distance
        """Frozen; carries its weight lambda_FD."""

    def reads(self, step: int, available: tuple[PassName, ...]) -> tuple[PassName, ...]:
        return (LABELLED,)

    def label(self, passes: tuple[PassName, ...]) -> str:
        return "feature distance"

    def __call__(self, passes: Mapping[PassName, Pass], step: int) -> TermOutput:
        p = passes[LABELLED]
        deep = p.forward.low.deep_features
        if deep is None:
            raise ValueError("feature distance needs the student's deep (last encoder) features")
        return TermOutput({"fd": self.distance(p.forward.low_images, p.labels, deep)})


def build_feature_distance(context: TermContext) -> nn.Module | None:
    """A frozen copy of the freshly initialised encoder, or None (FD off, with a warning why)."""
    config, model = context.config, context.model
    if not (config.task == "uda" and config.fd.enabled):
        return None
    if model.feature_distance_weights is None:
        warnings.warn(
            "fd.enabled is true but the encoder starts without ImageNet weights "
            "(model.options encoder_weights is null); the feature distance is off for this run",
            stacklevel=2,
        )
        return None
    things = config.fd.thing_classes
    if things is None:
        labelled = config.data.labelled
        things = list(dataset_info(labelled.kind, labelled.root).thing_classes)
    return FeatureDistance.from_encoder(
        model.encoder, thing_classes=things, ratio=config.fd.thing_ratio, weight=config.fd.weight
    )


def build(context: TermContext) -> list[LossTerm]:
    distance = build_feature_distance(context)
    return [] if distance is None else [FeatureDistanceTerm(context.to_device(distance))]
