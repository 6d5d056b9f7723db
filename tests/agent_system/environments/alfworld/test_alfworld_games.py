"""ALFWorld game discovery: splits, task types from folder names, unsolvable games, clear errors."""
from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from agent_system.environments.alfworld.games import (
    TASK_TYPES, canonical_split, discover_games, resolve_data_root, task_type_from_path,
)
from agent_system.environments.base import make_env_family
from skillrl.config.schema import EnvConfig


def _family(data_path, **alf):
    cfg = EnvConfig(env_name="alfworld/AlfredTWEnv")
    cfg.alfworld.data_path = str(data_path)
    for k, v in alf.items():
        setattr(cfg.alfworld, k, v)
    return make_env_family(cfg)


def _solvable_on_disk(split_dir: Path) -> Counter:
    """An independent count: folder prefix of every game file whose JSON says solvable."""
    counts = Counter()
    for game in split_dir.glob("*/*/game.tw-pddl"):
        if json.loads(game.read_text()).get("solvable"):
            counts[game.parent.parent.name.split("-")[0]] += 1
    return counts


@pytest.mark.parametrize("split", ["valid_seen", "valid_unseen", "valid_train"])
def test_counts_and_task_types_match_the_files(alfworld_data_dir, split):
    tasks = _family(alfworld_data_dir).tasks(split)
    expected = _solvable_on_disk(Path(alfworld_data_dir) / "json_2.1.1" / split)
    assert Counter(t.task_type for t in tasks) == expected
    assert set(expected) == set(TASK_TYPES)  # every split of the shared data has all six types
    for t in tasks:
        assert t.split == split and Path(t.payload["gamefile"]).is_file()
        assert t.task_id.startswith(t.task_type + "-") and "/trial_" in t.task_id
    assert [t.task_id for t in tasks] == sorted(t.task_id for t in tasks)
    assert len({t.task_id for t in tasks}) == len(tasks)


def test_train_split_and_eval_aliases(alfworld_data_dir):
    fam = _family(alfworld_data_dir)
    train = fam.tasks("train")
    assert len(train) == sum(_solvable_on_disk(Path(alfworld_data_dir) / "json_2.1.1" / "train").values())
    assert len(train) > 3000
    assert [t.task_id for t in fam.tasks("eval_in_distribution")] == [t.task_id for t in fam.tasks("valid_seen")]
    assert [t.task_id for t in fam.tasks("eval_out_of_distribution")] == [t.task_id for t in fam.tasks("valid_unseen")]
    # The trainer's "valid" is env.alfworld.eval_dataset.
    assert fam.tasks("valid")[0].split == "valid_seen"
    ood = _family(alfworld_data_dir, eval_dataset="eval_out_of_distribution")
    assert ood.tasks("valid")[0].split == "valid_unseen"


def test_task_type_filter(alfworld_data_dir):
    tasks = _family(alfworld_data_dir, task_types=["pick_heat_then_place_in_recep", "look_at_obj_in_light"]).tasks(
        "valid_unseen")
    assert tasks and {t.task_type for t in tasks} == {"pick_heat_then_place_in_recep", "look_at_obj_in_light"}
    with pytest.raises(ValueError, match="env.alfworld.task_types.*pick_and_place"):
        _family(alfworld_data_dir, task_types=["pick_and_place"]).tasks("valid_seen")


def _copy_game(src: Path, root: Path, split: str, folder: str, solvable) -> Path:
    dst = root / "json_2.1.1" / split / folder / "trial_T0"
    dst.mkdir(parents=True)
    data = json.loads(src.read_text())
    if solvable is None:
        data.pop("solvable", None)
    else:
        data["solvable"] = solvable
    (dst / "game.tw-pddl").write_text(json.dumps(data))
    return dst / "game.tw-pddl"


def test_unsolvable_unknown_and_movable_games_are_skipped(alfworld_data_dir, tmp_path):
    src = next((Path(alfworld_data_dir) / "json_2.1.1" / "valid_seen").glob("pick_and_place_simple-*/*/game.tw-pddl"))
    _copy_game(src, tmp_path, "train", "pick_and_place_simple-Book-None-Sofa-1", True)
    _copy_game(src, tmp_path, "train", "pick_cool_then_place_in_recep-Egg-None-Fridge-2", True)
    _copy_game(src, tmp_path, "train", "pick_and_place_simple-Book-None-Sofa-3", False)
    _copy_game(src, tmp_path, "train", "pick_and_place_simple-Book-None-Sofa-4", None)  # no solvable key
    _copy_game(src, tmp_path, "train", "pick_and_place_with_movable_recep-Book-Box-Sofa-5", True)
    _copy_game(src, tmp_path, "train", "open_the_window-Book-None-Sofa-6", True)
    tasks = discover_games(tmp_path, "train")
    assert [(t.task_id, t.task_type) for t in tasks] == [
        ("pick_and_place_simple-Book-None-Sofa-1/trial_T0", "pick_and_place_simple"),
        ("pick_cool_then_place_in_recep-Egg-None-Fridge-2/trial_T0", "pick_cool_then_place_in_recep"),
    ]


def test_missing_data_gives_a_useful_error(tmp_path, monkeypatch):
    monkeypatch.delenv("ALFWORLD_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as e:
        resolve_data_root(None)
    assert "ALFWORLD_DATA" in str(e.value) and "env.alfworld.data_path" in str(e.value)
    assert "tar -xJf" in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        _family(tmp_path / "nowhere").tasks("train")
    msg = str(e.value)
    assert str(tmp_path / "nowhere" / "json_2.1.1") in msg and "env.alfworld.data_path" in msg and "tar -xJf" in msg
    (tmp_path / "json_2.1.1" / "train").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="valid_unseen.*does not exist.*train"):
        _family(tmp_path).tasks("valid_unseen")


def test_env_var_and_version_folder_are_accepted(alfworld_data_dir, monkeypatch):
    monkeypatch.setenv("ALFWORLD_DATA", str(alfworld_data_dir))
    assert resolve_data_root(None) == Path(alfworld_data_dir).resolve()
    assert resolve_data_root(str(Path(alfworld_data_dir) / "json_2.1.1")) == Path(alfworld_data_dir).resolve()


def test_split_names_and_task_type_parsing():
    assert canonical_split("eval_out_of_distribution") == "valid_unseen"
    assert canonical_split("test", "eval_out_of_distribution") == "valid_unseen"
    with pytest.raises(ValueError, match="'dev'.*valid_seen"):
        canonical_split("dev")
    assert task_type_from_path("/d/json_2.1.1/train/pick_two_obj_and_place-CD-None-Safe-1/trial_T1/game.tw-pddl") \
        == "pick_two_obj_and_place"
    assert task_type_from_path("/d/x/trial_T1/game.tw-pddl") is None


def test_family_is_registered_under_both_names(alfworld_data_dir):
    for name in ("alfworld/AlfredTWEnv", "alfworld"):
        cfg = EnvConfig(env_name=name)
        cfg.alfworld.data_path = alfworld_data_dir
        assert type(make_env_family(cfg)).__name__ == "AlfworldFamily"
