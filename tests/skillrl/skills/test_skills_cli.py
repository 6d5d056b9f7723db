"""python -m skillrl.skills inspect / diff."""
import json
import subprocess
import sys

from skillrl.skills.__main__ import main
from skillrl.skills.bank import load_bank, save_bank


def _evolved_copy(repo_root, tmp_path):
    bank = load_bank(str(repo_root / "memory_data/household/claude_style_skills.json"))
    bank.add_skill({"skill_id": "dyn_4_gen_1", "title": "Scan Before Walking", "principle": "p", "when_to_apply": "w",
                    "provenance": {"source": "evolution", "step": 4, "task_type": "pick_two_obj_and_place",
                                   "success_rate": 0.25, "teacher_model": "gpt-4o"}})
    bank.remove_skill("two_005")
    bank.task_specific_skills["pick_heat_then_place_in_recep"][0]["principle"] = "Edited."
    return save_bank(bank, str(tmp_path / "evolved.json"))


def test_inspect_as_a_command(repo_root, tmp_path):
    path = _evolved_copy(repo_root, tmp_path)
    out = subprocess.run([sys.executable, "-m", "skillrl.skills", "inspect", path], capture_output=True, text=True,
                         cwd=repo_root, check=True).stdout
    assert "general skills: 13" in out and "  pick_two_obj_and_place: 4" in out and "evolved skills: 1" in out
    assert "dyn_4_gen_1 [general] Scan Before Walking (step=4, task_type=pick_two_obj_and_place, " \
           "success_rate=0.25, teacher_model=gpt-4o)" in out


def test_inspect_reference_search_bank_json(skillrl_reference, capsys):
    assert main(["inspect", str(skillrl_reference / "claude_style_skills_search.json"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["task_key"] == "query_type_skills" and info["counts"]["per_category"]["comparison"] == 5


def test_diff(repo_root, tmp_path, capsys):
    a = str(repo_root / "memory_data/household/claude_style_skills.json")
    b = _evolved_copy(repo_root, tmp_path)
    assert main(["diff", a, b]) == 0
    out = capsys.readouterr().out
    assert "+ dyn_4_gen_1 [general] Scan Before Walking" in out
    assert "- two_005 [pick_two_obj_and_place]" in out and "~ hot_001: principle" in out
    assert "general: 12 -> 13" in out and "pick_two_obj_and_place: 5 -> 4" in out
    assert main(["diff", a, a, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["identical"] is True


def test_bad_bank_is_reported(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"general_skills": [{"skill_id": "g", "title": "t"}]}))
    assert main(["inspect", str(bad)]) == 2
    assert "general_skills[0].principle: missing" in capsys.readouterr().err
