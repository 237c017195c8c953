"""Fabric for the trainer, and processes that end cleanly: after a run every rank meets at a
barrier and destroys its process group (a gloo thread left running aborts the process at exit)."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any, TypeVar

from lightning_fabric import Fabric

from pixl.config.schema import TrainerConfig
from pixl.errors import PixlError
from pixl.evaluation.fabric import new_fabric, stop_distributed

T = TypeVar("T")


def make_fabric(t: TrainerConfig) -> Fabric:
    """Fabric from ``trainer.*`` (not launched); what cannot run here is one ``ConfigError`` line."""
    return new_fabric(
        f"trainer: accelerator={t.accelerator}, devices={t.devices}, strategy={t.strategy}, "
        f"precision={t.precision}",
        accelerator=t.accelerator,
        devices=t.devices,
        num_nodes=t.num_nodes,
        strategy=t.strategy,
        precision=t.precision,
    )


def run_then_stop(function: Callable[[Fabric], T], fabric: Fabric) -> T:
    """``function(fabric)``, then the process group is destroyed (after a barrier on success)."""
    success = False
    try:
        result = function(fabric)
        success = True
        return result
    finally:
        stop_distributed(barrier=success)


def spawned(fabric: Fabric, function: Callable[[Fabric], Any]) -> bytes:
    """Under ``ddp_spawn``: the result travels pickled, because Lightning's collection mover
    cannot rebuild the frozen dataclasses inside it."""
    return pickle.dumps(run_then_stop(function, fabric))


def on_rank_zero(fabric: Any, function: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Run ``function`` on global rank 0; a user or OS error there stops every rank."""
    error: BaseException | None = None
    if fabric.is_global_zero:
        try:
            function(*args, **kwargs)
        except (PixlError, OSError) as caught:
            error = caught
    if fabric.world_size > 1:
        import torch.distributed as dist

        box = [None if error is None else str(error)]
        dist.broadcast_object_list(box, src=0)
        if box[0] is not None and error is None:
            raise PixlError(f"rank 0 could not start the run: {box[0]}")
    if error is not None:
        raise error
