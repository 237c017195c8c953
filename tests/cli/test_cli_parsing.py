"""The `pixl` command line: every command registers, overrides may follow options."""

import pytest

from pixl.cli import COMMAND_MODULES, build_parser, parse_args


def test_every_command_is_registered():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps them here
    expected = {"data", "train", "check", "demo", "eval", "predict", "visualize"}
    assert set(commands) == expected
    assert len(COMMAND_MODULES) == len(expected)  # one module per command


def test_overrides_before_and_after_options():
    args = parse_args(["train", "c.yaml", "a.b=1", "--resume", "auto", "trainer.max_steps=3"])
    assert args.overrides == ["a.b=1", "trainer.max_steps=3"]
    assert args.resume == "auto"
    args = parse_args(["eval", "c.yaml", "--checkpoint", "m.pt", "eval.mode=slide"])
    assert args.overrides == ["eval.mode=slide"] and args.checkpoint == "m.pt"


def test_unknown_arguments_are_still_refused(capsys):
    with pytest.raises(SystemExit) as info:
        parse_args(["train", "c.yaml", "--resume", "auto", "--bogus"])
    assert info.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["demo", "x=1"])  # demo takes no overrides
