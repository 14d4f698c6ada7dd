"""One stage registry (trainer/stages.py) that the package, the CLI and the app read."""

from __future__ import annotations

import dataclasses
from importlib import import_module

import pytest

import trainer
from trainer.config import CommonConfig, ConfigError
from trainer.stages import STAGES, get_stage


class TestRegistry:
    def test_every_stage_has_a_config_beside_its_loop_and_a_package_name(self) -> None:
        assert list(STAGES) == ["sft", "rm", "dpo", "ppo", "best-of-k"]
        for stage in STAGES.values():
            assert issubclass(stage.config, CommonConfig)
            # the config sits beside the loop: trainer/sft.py ↔ trainer/sft_config.py
            assert stage.config.__module__ == f"{stage.module}_config" or (
                stage.name == "rm" and stage.config.__module__ == "trainer.reward_config")
            assert stage.api in trainer.__all__ and stage.config.__name__ in trainer.__all__
            assert getattr(trainer, stage.api) is import_module(stage.module).train
            assert stage.train is import_module(stage.module).train
            assert getattr(trainer, stage.config.__name__) is stage.config

    def test_every_config_field_has_help_text(self) -> None:
        for stage in STAGES.values():
            for f in dataclasses.fields(stage.config):
                assert f.metadata.get("help", "").strip(), f"{stage.name}.{f.name}"

    def test_the_app_offers_exactly_the_trainers_stages(self) -> None:
        from app.training import stages as app_stages

        assert list(app_stages.LABELS) == list(STAGES)
        assert {"ppo", "best-of-k"} == app_stages.NEEDS_REWARD_MODEL
        for name in STAGES:
            assert app_stages.load(name).config_cls is STAGES[name].config

    def test_unknown_stage_and_bad_values_name_what_to_change(self) -> None:
        with pytest.raises(KeyError, match="known: sft, rm, dpo, ppo, best-of-k"):
            get_stage("grpo")
        with pytest.raises(ConfigError) as err:
            STAGES["rm"].config(margin_scale="huge")
        assert err.value.field == "margin_scale" and "export, small, large" in str(err.value)
        with pytest.raises(ConfigError, match="clip_range"):
            STAGES["ppo"].config(clip_range=1.5)
        assert STAGES["best-of-k"].config(selection="threshold").selection == "threshold"
