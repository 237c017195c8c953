"""The one Fabric factory: training (``trainer.*``) and evaluation (``pixl eval --devices``) both
start Lightning Fabric here, so what cannot run on this machine is one ``ConfigError`` line; and
the clean end of a distributed process."""

from __future__ import annotations

from lightning_fabric import Fabric
from lightning_fabric.utilities.exceptions import MisconfigurationException

from pixl.errors import ConfigError, one_line


def new_fabric(
    settings: str,
    *,
    accelerator: str = "auto",
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
    precision: str = "32-true",
) -> Fabric:
    """``Fabric(...)`` (not launched); ``settings`` names the options in the error line."""
    try:
        return Fabric(
            accelerator=accelerator,
            devices=devices,
            num_nodes=num_nodes,
            strategy=strategy,
            precision=precision,  # type: ignore[arg-type]
        )
    except (MisconfigurationException, ValueError, RuntimeError, TypeError) as error:
        raise ConfigError(f"{settings} cannot run here ({one_line(error)})") from None


def start_fabric(accelerator: str = "auto", devices: int = 1) -> Fabric:
    """Lightning Fabric for inference, launched: one device, or DDP over ``devices`` (Fabric
    starts the other processes itself; under ``torchrun`` / SLURM it joins the launched ones)."""
    if devices < 1:
        raise ConfigError(f"--devices: expected a positive number of devices, got {devices}")
    fabric = new_fabric(
        f"--accelerator {accelerator} --devices {devices}:",
        accelerator=accelerator,
        devices=devices,
        strategy="ddp" if devices > 1 else "auto",
    )
    fabric.launch()
    return fabric


def stop_distributed(barrier: bool = True) -> None:
    """End this process's part in DDP: meet the other ranks (``barrier``: only when all of them
    get here), then destroy the process group, so no gloo thread outlives the work."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()
