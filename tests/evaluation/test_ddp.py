"""Under DDP each rank scores a shard; the reduced confusion matrix equals a single-process run."""

from __future__ import annotations

import pytest
import torch
from lightning_fabric import Fabric

from pixl.core import IGNORE_INDEX
from pixl.evaluation import evaluate
from pixl.evaluation.fabric import stop_distributed
from pixl.evaluation.runner import rank_shard

from .fakes import PatchSegmentor

NUM_CLASSES = 5


def _batches() -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(5):  # odd count: the shards differ in size
        label = torch.randint(0, NUM_CLASSES, (1, 32, 32), generator=generator)
        label[:, :4] = IGNORE_INDEX
        samples.append({"image": torch.randn(1, 3, 32, 32, generator=generator), "label": label})
    return samples


def _evaluate_on_rank(fabric: Fabric) -> tuple[list[list[int]], int, int]:
    try:
        shard = rank_shard(_batches(), fabric.global_rank, fabric.world_size)
        model = PatchSegmentor(NUM_CLASSES)
        report = evaluate(model, shard, num_classes=NUM_CLASSES, fabric=fabric)
        capped = rank_shard(_batches(), fabric.global_rank, fabric.world_size, max_images=3)
        first3 = evaluate(model, capped, num_classes=NUM_CLASSES, fabric=fabric)
        return [list(row) for row in report.confusion], report.num_images, first3.num_images
    finally:
        # Without this, rank 1 may exit while a gloo thread still runs (SIGABRT).
        stop_distributed()


@pytest.mark.slow
def test_confusion_matrix_is_summed_across_ranks() -> None:
    single = evaluate(PatchSegmentor(NUM_CLASSES), _batches(), num_classes=NUM_CLASSES)
    fabric = Fabric(accelerator="cpu", devices=2, strategy="ddp_spawn")
    confusion, images, capped = fabric.launch(_evaluate_on_rank)
    assert images == 5
    assert capped == 3  # eval.max_images is global: 3 images over both ranks
    assert confusion == [list(row) for row in single.confusion]
    assert sum(map(sum, confusion)) == 5 * 28 * 32  # every valid pixel once, none twice


def test_rank_shards_cover_every_item_once() -> None:
    items = list(range(7))
    shards = [list(rank_shard(items, rank, 3)) for rank in range(3)]
    assert sorted(item for shard in shards for item in shard) == items
    assert rank_shard(items, 0, 1) is items
    capped = [list(rank_shard(items, rank, 3, max_images=4)) for rank in range(3)]
    assert capped == [[0, 3], [1], [2]]
    assert list(rank_shard(items, 0, 1, max_images=2)) == [0, 1]
