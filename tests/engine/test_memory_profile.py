"""Per-stage peak memory (``pixl.engine.memory``): the stage that allocates the most sets the peak."""

from __future__ import annotations

import torch

from pixl.engine.memory import OUTSIDE, StageProfile, memory_stage

MIB = 1024**2


def test_the_stage_that_allocates_most_sets_the_peak() -> None:
    profile = StageProfile(torch.device("cpu"))
    with profile.profiling():
        with memory_stage("small"):
            small = torch.ones(4 * MIB // 4)
        with memory_stage("big"):
            big = torch.ones(256 * MIB // 4)
            del big
        with memory_stage("after"):
            kept = torch.ones(64 * MIB // 4)
    del small, kept
    assert [name for name in profile.peaks if name != OUTSIDE] == ["small", "big", "after"]
    assert profile.peak_stage == "big"
    assert profile.peaks["big"] is not None and profile.peaks["big"] >= 200 * MIB
    assert profile.peak == profile.peaks["big"]
    if profile.resets:  # Linux: each stage's own peak, not the run's so far
        assert profile.peaks["after"] is not None and profile.peaks["after"] < 200 * MIB
        assert profile.held["after"] < 100 * MIB  # the big block was freed before it began
    assert OUTSIDE in profile.peaks  # the gaps between stages are measured too


def test_memory_stage_is_a_no_op_without_a_profile() -> None:
    with memory_stage("anything"):
        value = torch.ones(3).sum()
    assert float(value) == 3.0
