"""Config schema, YAML loading, dotted overrides and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import pixl.data.kinds  # noqa: F401  (registers the dataset kinds the schema checks `kind` against)
from pixl.config import (
    ExperimentConfig,
    config_from_dict,
    list_packaged_configs,
    load_config,
    packaged_config,
    save_config,
)
from pixl.errors import ConfigError

MINIMAL = {
    "task": "uda",
    "data": {
        "labelled": {"kind": "gta5", "root": "data/gta5", "split": "train"},
        "unlabelled": {"kind": "cityscapes", "root": "data/cityscapes", "split": "train"},
        "val": {"kind": "cityscapes", "root": "data/cityscapes", "split": "val"},
    },
}


def write(tmp_path: Path, data: dict, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults_are_the_papers_settings(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.name == "exp"  # the file stem
    assert config.optim.lr == 6e-5 and config.optim.head_lr_mult == 10
    assert config.optim.weight_decay == 0.01 and config.optim.warmup_steps == 1500
    assert config.self_training.ema_alpha == 0.999
    assert config.self_training.pseudo_threshold == 0.968
    assert (config.pixl.eta_start, config.pixl.eta_end) == (0.2, 0.001)
    assert config.model.detail_weight == 0.1
    assert config.run_dir == "runs/exp"


def test_unknown_key_names_the_dotted_key_and_the_valid_ones(tmp_path: Path) -> None:
    data = {**MINIMAL, "pixl": {"temprature": 0.1}}
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: unknown key 'pixl.temprature' (valid: enabled, ")
    assert "temperature" in message and "\n" not in message


def test_wrong_choice_lists_the_valid_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, MINIMAL), ["trainer.precision=fp8"])
    assert str(info.value).endswith(
        "trainer.precision: expected one of 32-true, bf16-mixed, 16-mixed; got 'fp8'"
    )


def test_nested_unknown_key_and_wrong_type(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    data["data"]["val"]["splt"] = "val"
    with pytest.raises(ConfigError, match=r"unknown key 'data\.val\.splt' \(valid: kind, root"):
        load_config(write(tmp_path, data))
    with pytest.raises(
        ConfigError, match=r"trainer\.devices: expected a positive integer or 'auto'"
    ):
        load_config(write(tmp_path, MINIMAL), ["trainer.devices=two"])
    with pytest.raises(
        ConfigError, match=r"data\.labelled\.kind: expected one of cityscapes, gta5"
    ):
        load_config(write(tmp_path, MINIMAL), ["data.labelled.kind=kitti"])


def test_overrides_parse_yaml_values_and_check_keys(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    config = load_config(
        path,
        ["pixl.enabled=false", "trainer.max_steps=10", "eval.window=[64, 64]", "model.options.x=1"],
    )
    assert config.pixl.enabled is False
    assert config.trainer.max_steps == 10
    assert config.eval.window == (64, 64)
    assert config.model.options == {"x": 1}
    with pytest.raises(ConfigError, match=r"override 'trainer\.max_step=3': unknown key"):
        load_config(path, ["trainer.max_step=3"])
    with pytest.raises(ConfigError, match=r"expected key\.sub=value"):
        load_config(path, ["trainer.max_steps"])


def test_task_and_data_must_agree(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"task 'uda' needs data\.unlabelled"):
        load_config(write(tmp_path, MINIMAL), ["data.unlabelled=null"])
    with pytest.raises(ConfigError, match=r"task 'supervised' takes no data\.unlabelled"):
        load_config(write(tmp_path, MINIMAL), ["task=supervised"])
    with pytest.raises(ConfigError, match=r"fd\.enabled is for task 'uda' only"):
        load_config(write(tmp_path, {**MINIMAL, "task": "semi", "fd": {"enabled": True}}))


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [uda\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_config(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        load_config(listed)


def test_saved_config_loads_back_identical(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL), ["pixl.temperature=0.2"])
    saved = save_config(config, tmp_path / "run" / "config.yaml")
    assert load_config(saved) == config


@pytest.mark.parametrize("name", list_packaged_configs())
def test_every_shipped_config_is_valid(name: str) -> None:
    from pixl.models import model_options

    config = load_config(name)
    assert isinstance(config, ExperimentConfig)
    valid = model_options(config.model.name)
    assert set(config.model.options) <= set(valid), name
    if "base_options" in config.model.options:
        base = model_options(config.model.options["base"])
        assert set(config.model.options["base_options"]) <= set(base), name


def test_the_settings_of_the_paper_are_shipped() -> None:
    shipped = set(list_packaged_configs())
    for kind in ("gta5", "synthia"):
        for arch in ("hrda", "deeplabv3plus"):
            assert f"uda/{kind}_to_cityscapes_{arch}_pixl" in shipped
    for fraction in ("1_30", "1_8", "1_4"):
        assert f"ssl/cityscapes_{fraction}_hrda_pixl" in shipped
    assert "supervised/cityscapes_hrda_pixl" in shipped
    baseline = load_config("uda/gta5_to_cityscapes_hrda_baseline")
    assert baseline.pixl.enabled is False  # Table 5 ablations
    assert load_config("uda/gta5_to_cityscapes_hrda_dpa").pixl.adaptive_selection is False
    hrda = load_config("uda/gta5_to_cityscapes_hrda_pixl")
    assert hrda.model.options["base_options"]["encoder"] == "mit_b5"
    assert hrda.fd.enabled and hrda.trainer.max_steps == 60000
    for setting in ("uda", "ssl_1_30", "supervised", "source_only"):
        for variant in ("pixl", "baseline"):
            assert f"digits/{setting}_{variant}" in shipped


def test_packaged_config_lookup() -> None:
    assert packaged_config("digits/uda_pixl").is_file()
    with pytest.raises(ConfigError, match="no such shipped config"):
        packaged_config("digits/absent")


def test_config_from_dict_names_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^stored: missing key 'task'"):
        config_from_dict({"name": "x", "data": MINIMAL["data"]}, source="stored")


@pytest.mark.parametrize(
    ("resize", "explicit", "expected"),
    [(None, None, 1), ((64, 64), None, 8), ((512, 1024), None, 1), ((64, 64), 2, 2)],
)
def test_eval_batch_defaults_to_8_for_small_fixed_size_images(
    tmp_path: Path, resize, explicit, expected
) -> None:
    data = {**MINIMAL, "data": {**MINIMAL["data"], "val": dict(MINIMAL["data"]["val"])}}
    if resize is not None:
        data["data"]["val"]["resize"] = list(resize)
    if explicit is not None:
        data["eval"] = {"batch_size": explicit}
    config = load_config(write(tmp_path, data))
    assert config.eval.batch_size == expected
    saved = save_config(config, tmp_path / "resolved.yaml")
    assert load_config(saved).eval.batch_size == expected


def test_new_pixl_switches_default_to_the_former_behaviour(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    p = config.pixl
    assert (p.cell_purity, p.projection, p.projection_dim, p.anchors) == (0.0, "none", 256, "drift")
    assert config.self_training.teacher_norm == "eval"
    assert p.weight == 1.0  # eq. (17)
    for bad in ("pixl.cell_purity=1.0", "pixl.anchors=joint", "self_training.teacher_norm=x"):
        with pytest.raises(ConfigError):
            load_config(write(tmp_path, MINIMAL), [bad])


def test_shipped_pixl_configs_take_weight_1_except_digitscenes() -> None:
    for name in list_packaged_configs():
        config = load_config(name)
        if config.pixl.enabled and not name.startswith("digits/"):
            assert config.pixl.weight == 1.0, name
