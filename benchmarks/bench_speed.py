"""Free speed-ups, each against what it replaced, timed in one process taking turns (ABAB...).

Run: ``OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_speed.py``
1. AdamW step over the DigitScenes model's parameters (DeepLabV3+ ResNet-18, 64-d decoder):
   fused vs the per-tensor loop vs foreach; max |parameter difference| after 20 steps.
2. EMA teacher update on the same model: one ``_foreach_lerp_`` vs the per-tensor mul_/add_.
3. Sliding-window eval (DAFormer mit_b0, 64-d head, 4 images 256x512, window 128, stride 64:
   21 windows): one call per window vs windows stacked 8 crops per call; images/s, argmax equal.
4. Whole-image eval of the DigitScenes model at 64x64: batch 1 vs batch 8 (32 images).
Writes ``benchmarks/results/speed.md``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable

import torch
from torch import nn

import results
from pixl.models import create_model, param_groups, predict_logits

ROUNDS = 5


def turns(fns: dict[str, Callable[[], object]], rounds: int = ROUNDS) -> dict[str, float]:
    """Best time of each function over ``rounds`` rounds, the functions taking turns."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def digits_model() -> nn.Module:
    torch.manual_seed(0)
    return create_model("deeplabv3plus", 10, encoder="resnet18", encoder_weights=None, embed_dim=64)


def adamw() -> tuple[dict[str, float], float]:
    model = digits_model()
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-2
    variants = {}
    copies = {}
    for name, kwargs in (
        ("loop", {"foreach": False}),
        ("foreach", {"foreach": True}),
        ("fused", {"fused": True}),
    ):
        clone = copy.deepcopy(model)
        for p, q in zip(clone.parameters(), model.parameters(), strict=True):
            p.grad = q.grad.clone()
        groups = param_groups(clone, lr=4e-3, head_lr_mult=1.0, weight_decay=0.01)
        optimizer = torch.optim.AdamW(groups, lr=4e-3, **kwargs)
        variants[name] = optimizer.step
        copies[name] = clone
    times = turns(variants, rounds=20)  # 20 steps each: same updates, so parameters comparable
    diff = max(
        (a - b).abs().max().item()
        for a, b in zip(copies["fused"].parameters(), copies["loop"].parameters(), strict=True)
    )
    return times, diff


def ema() -> dict[str, float]:
    from pixl.engine.teacher import _tensors, ema_update

    student, teacher = digits_model(), digits_model()

    @torch.no_grad()
    def loop() -> None:
        source = _tensors(student)
        for name, value in _tensors(teacher).items():
            if value.is_floating_point():
                value.mul_(0.99).add_(source[name], alpha=0.01)
            else:
                value.copy_(source[name])

    return turns({"loop": loop, "foreach lerp": lambda: ema_update(teacher, student, 0.99)}, 20)


def slide() -> tuple[dict[str, float], bool]:
    torch.manual_seed(0)
    model = create_model("daformer", 19, encoder="mit_b0", embed_dim=64).eval()
    images = torch.randn(4, 3, 256, 512)
    kwargs = {"mode": "slide", "window": (128, 128), "stride": (64, 64)}
    one = predict_logits(model, images, window_batch=1, **kwargs)
    stacked = predict_logits(model, images, window_batch=8, **kwargs)
    times = turns(
        {
            "one call per window": lambda: predict_logits(model, images, window_batch=1, **kwargs),
            "8 crops per call": lambda: predict_logits(model, images, window_batch=8, **kwargs),
        },
        rounds=3,
    )
    return {k: 4 / v for k, v in times.items()}, bool(torch.equal(one.argmax(1), stacked.argmax(1)))


def eval_batch() -> dict[str, float]:
    model = digits_model().eval()
    images = torch.randn(32, 3, 64, 64)

    def run(batch: int) -> Callable[[], None]:
        return lambda: [predict_logits(model, part) for part in images.split(batch)]

    times = turns({"batch 1": run(1), "batch 8": run(8)})
    return {k: 32 / v for k, v in times.items()}


def main() -> None:
    torch.set_grad_enabled(True)
    opt_times, opt_diff = adamw()
    ema_times = ema()
    slide_rates, same_argmax = slide()
    batch_rates = eval_batch()
    ms = {
        k: 1000 * v
        for k, v in {**opt_times, **{f"ema {k}": v for k, v in ema_times.items()}}.items()
    }
    body = "\n".join(
        [
            "Best of the rounds, variants taking turns in one process (compare rows; absolute"
            " times move with the load, which the header gives at the start).",
            "",
            "| what | before | after | after / before |",
            "|---|---:|---:|---:|",
            f"| AdamW step, DigitScenes DeepLabV3+ R18 (ms): per-tensor loop -> fused "
            f"| {ms['loop']:.1f} | {ms['fused']:.1f} | {ms['fused'] / ms['loop']:.2f}x |",
            f"| AdamW step (ms): foreach -> fused (the per-tensor loop is the CPU default) "
            f"| {ms['foreach']:.1f} | {ms['fused']:.1f} | {ms['fused'] / ms['foreach']:.2f}x |",
            f"| EMA update, same model (ms): mul_/add_ per tensor -> one foreach lerp "
            f"| {ms['ema loop']:.1f} | {ms['ema foreach lerp']:.1f} "
            f"| {ms['ema foreach lerp'] / ms['ema loop']:.2f}x |",
            f"| slide eval, mit_b0 256x512, 21 windows (images/s): 1 window per call -> 8 crops "
            f"| {slide_rates['one call per window']:.2f} | {slide_rates['8 crops per call']:.2f} "
            f"| {slide_rates['8 crops per call'] / slide_rates['one call per window']:.2f}x speed |",
            f"| whole eval, DigitScenes model 64x64 (images/s): batch 1 -> batch 8 "
            f"| {batch_rates['batch 1']:.0f} | {batch_rates['batch 8']:.0f} "
            f"| {batch_rates['batch 8'] / batch_rates['batch 1']:.2f}x speed |",
            "",
            f"Fused vs loop AdamW after 20 identical steps: max |parameter difference| {opt_diff:.1e}. "
            f"Slide eval argmax identical (stacked vs one call per window): {same_argmax}.",
        ]
    )
    print(body)
    results.write_result("speed", [("Free speed-ups", body)], title="Speed: free speed-ups")


if __name__ == "__main__":
    main()
