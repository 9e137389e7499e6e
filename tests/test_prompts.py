from __future__ import annotations

from pathlib import Path

import pytest

from steerlab.data.example import Example
from steerlab.errors import ConfigError, DataError
from steerlab.prompts import diff_templates, load_template
from steerlab.task import load_task
from steerlab.task_template import write_example_task


@pytest.fixture
def task(tmp_path: Path):
    write_example_task(tmp_path / "t", "classify")
    return load_task(tmp_path / "t")


def test_rendering_is_deterministic_and_uses_every_part(task) -> None:
    template = load_template("classify")
    example = Example({"text": "I was charged twice"}, "billing")
    shot = Example({"text": "App crashes on start"}, "technical")
    first = template.render(task, example, shots=[shot])
    assert first == template.render(task, example, shots=[shot])
    assert [m["role"] for m in first] == ["system", "user", "assistant", "user"]
    system = first[0]["content"]
    for label in task.label_names:
        assert f"- {label}" in system
    assert "If no label fits, answer other." in system
    assert first[1]["content"] == "App crashes on start" and first[2]["content"] == "technical"
    assert first[-1]["content"].startswith("I was charged twice\n\nAnswer with the label only")


def test_version_changes_with_wording(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nparts:\n  role: You route tickets.\n  format: Label only.\n")
    a = load_template(str(path))
    path.write_text("name: mine\nparts:\n  role: You route tickets.\n  format: The label only.\n")
    b = load_template(str(path))
    assert a.version != b.version and a.version.startswith("mine@")
    diff = diff_templates(a, b)
    assert "-Label only." in diff and "+The label only." in diff and ":format" in diff
    assert diff_templates(a, a) == ""


def test_bad_templates_say_what_is_wrong(tmp_path: Path, task) -> None:
    (tmp_path / "typo.yaml").write_text("name: typo\nparts:\n  rol: x\n")
    with pytest.raises(DataError, match="unknown part 'rol'"):
        load_template(str(tmp_path / "typo.yaml"))
    with pytest.raises(ConfigError, match="no prompt template called"):
        load_template("nope")
    (tmp_path / "undefined.yaml").write_text("name: u\nparts:\n  role: '{{ nothing_here }}'\n")
    with pytest.raises(ConfigError, match="failed to render"):
        load_template(str(tmp_path / "undefined.yaml")).render(task, Example({"text": "x"}, "billing"))


def test_task_folder_templates_shadow_built_ins(task) -> None:
    (task.dir / "prompts").mkdir()
    (task.dir / "prompts" / "classify.yaml").write_text("name: classify\nparts:\n  role: Custom role.\n")
    assert load_template("classify", task.dir).parts["role"] == "Custom role."
    assert load_template("classify").parts["role"] != "Custom role."
