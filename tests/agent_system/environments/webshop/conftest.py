"""A small WebShop catalog written by the tests (the real files are not needed)."""
from __future__ import annotations

import pytest

from agent_system.environments.webshop.demo_data import write_demo_catalog


@pytest.fixture(scope="session")
def webshop_data_dir(tmp_path_factory) -> str:
    return write_demo_catalog(str(tmp_path_factory.mktemp("webshop_data")))


@pytest.fixture()
def webshop_env_cfg(webshop_data_dir):
    from skillrl.config.schema import EnvConfig

    cfg = EnvConfig(env_name="webshop", max_steps=15)
    cfg.webshop.data_path = webshop_data_dir
    cfg.webshop.num_test_goals = 3
    cfg.webshop.num_valid_goals = 3
    return cfg


@pytest.fixture()
def webshop_family(webshop_env_cfg):
    from agent_system.environments.base import make_env_family

    return make_env_family(webshop_env_cfg)
