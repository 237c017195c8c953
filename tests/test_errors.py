"""The one-line idiom of user-facing errors (``pixl.errors.one_line``) and a real multi-line
library error going through it."""

from pathlib import Path

import pytest

from pixl.config import load_config
from pixl.errors import ConfigError, one_line


def test_a_multi_line_message_becomes_one_line():
    error = RuntimeError("Error(s) in loading state_dict:\n\tMissing key(s): 'a', 'b'.\n")
    assert one_line(error) == "Error(s) in loading state_dict: Missing key(s): 'a', 'b'."


def test_a_long_message_is_cut_at_the_limit():
    text = one_line(ValueError("x" * 500), limit=40)
    assert len(text) == 40 and text.endswith("...") and text.startswith("xxx")
    assert one_line("short", limit=40) == "short"


def test_an_empty_message_gives_the_type_name():
    assert one_line(KeyboardInterrupt()) == "KeyboardInterrupt"
    assert one_line(OSError("  \n ")) == "OSError"


def test_a_yaml_parser_error_reaches_the_user_as_one_line(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("trainer:\n  max_steps: [1, 2\n  lr: 3\n")  # unclosed list: PyYAML's
    with pytest.raises(ConfigError) as caught:  # message spans several lines
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: not valid YAML (")
