"""``steerlab data check`` end to end, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from steerlab.data.check import check_data
from steerlab.task import load_task
from steerlab.task_template import write_example_task

BANKING77 = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "banking77"


def steerlab(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "steerlab.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


def everything_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_check_writes_a_versioned_dataset_and_reuses_it(tmp_path: Path) -> None:
    write_example_task(tmp_path / "t", "classify")
    task = load_task(tmp_path / "t")
    first = check_data(task, workspace=tmp_path / "ws")
    assert first.path is not None and not first.reused
    assert {p.name for p in first.path.iterdir()} == {
        "train.jsonl",
        "dev.jsonl",
        "test.jsonl",
        "card.json",
        "card.md",
        "findings.jsonl",
        "manifest.json",
    }
    card = json.loads((first.path / "card.json").read_text())
    assert sum(card["splits"].values()) == card["total"] == 12
    assert (tmp_path / "ws" / "datasets" / f"{task.name}.current").read_text().strip() == first.version
    again = check_data(task, workspace=tmp_path / "ws")
    assert again.version == first.version and again.reused


@pytest.mark.parametrize("kind", ["classify", "extract", "answer", "generate"])
def test_every_kind_gets_all_three_splits(tmp_path: Path, kind: str) -> None:
    write_example_task(tmp_path / kind, kind)
    result = check_data(load_task(tmp_path / kind), dry_run=True)
    assert all(count > 0 for count in result.card["splits"].values()), result.card["splits"]


def test_changing_a_setting_changes_the_version(tmp_path: Path) -> None:
    write_example_task(tmp_path / "t", "classify")
    before = check_data(load_task(tmp_path / "t"), dry_run=True).version
    yaml = tmp_path / "t" / "task.yaml"
    yaml.write_text(yaml.read_text().replace("seed: 13", "seed: 14"))
    assert check_data(load_task(tmp_path / "t"), dry_run=True).version != before


def make_task(tmp_path: Path, data: bytes, name: str = "train.jsonl") -> Path:
    folder = tmp_path / "task"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / name).write_bytes(data)
    (folder / "task.yaml").write_text(
        "name: bad\nkind: classify\ninputs: [text]\noutput:\n  field: label\n  labels: [card, refund]\n"
        f"data:\n  train: data/{name}\n"
    )
    return folder


GOOD = b'{"text": "lost my card", "label": "card"}\n'
BAD_DATA = {
    "invalid JSON line": (GOOD + b'{"text": "x"\n', r"train.jsonl:2: invalid JSON"),
    "wrong encoding": (GOOD + b'{"text": "caf\xe9", "label": "card"}\n', "train.jsonl:2: is not valid UTF-8"),
    "missing field": (GOOD + b'{"label": "card"}\n', "train.jsonl:2: field 'text': missing"),
    "unknown label": (
        GOOD + b'{"text": "money back", "label": "refnud"}\n',
        "train.jsonl:2: field 'label': label 'refnud'",
    ),
    "empty file": (b"", "train.jsonl: file is empty"),
    "10 MB single line": (
        GOOD + b'{"text": "' + b"a" * 10_000_000 + b'", "label": "card"}\n',
        "train.jsonl:2: line is",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_data_exits_non_zero_naming_file_line_field_and_writes_nothing(tmp_path: Path, case: str) -> None:
    data, expected = BAD_DATA[case]
    folder = make_task(tmp_path, data)
    result = steerlab("data", "check", str(folder))
    assert result.returncode != 0
    assert expected in result.stderr.replace("\n", " ") or expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert everything_under(folder / ".steerlab") in ([], ["datasets"])


HEADER = "name: bad\nkind: classify\ninputs: [text]\noutput:\n"
BAD_TASKS = {
    "typo'd key": (HEADER + "  field: label\n  lables: [a, b]\n", "task.yaml:6: field 'output.lables'"),
    "wrong type": (
        HEADER + "  labels: [a, b]\ndata: {train: d.jsonl}\nvolume:\n  monthly_requests: lots\n",
        "task.yaml:8: field 'volume.monthly_requests'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TASKS))
def test_bad_task_yaml_exits_non_zero_naming_file_line_field(tmp_path: Path, case: str) -> None:
    text, expected = BAD_TASKS[case]
    (tmp_path / "d.jsonl").write_bytes(GOOD)
    (tmp_path / "task.yaml").write_text(text)
    result = steerlab("data", "check", str(tmp_path))
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    assert not (tmp_path / ".steerlab").exists()


@pytest.mark.skipif(not BANKING77.is_dir(), reason="BANKING77 lives in ../shared beside the repository")
def test_banking77_card_counts_match_the_files(tmp_path: Path) -> None:
    result = steerlab("data", "check", str(EXAMPLE), "--workspace", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)["card"]
    rows = {Path(s["path"]).name: s["rows"] for s in card["sources"]}
    assert rows == {"train.csv": 10_003, "test.csv": 3_080}
    assert card["labels"]["count"] == 77 and card["labels"]["present"] == 77
    # The example's own label file (names with descriptions) names exactly the data's intents.
    categories = json.loads((BANKING77 / "categories.json").read_text())
    assert list(json.loads((EXAMPLE / "labels.json").read_text())) == categories
    assert card["splits"]["test"] == 3_080  # the published test split is kept whole
    assert card["splits"]["train"] + card["splits"]["dev"] <= 10_003
    print(
        f"\nBANKING77 data check: {card['seconds']:.1f} s, splits {card['splits']}, removed {card['removed']}"
    )


def pii_task(tmp_path: Path, redact: bool) -> Path:
    folder = tmp_path / ("redacted" if redact else "raw")
    (folder / "data").mkdir(parents=True)
    rows = [
        {"text": "Please refund me, write to jane.doe@example.com", "label": "refund"},
        {"text": "My card ending 4242 was lost", "label": "card"},
        {"text": "Card stolen yesterday", "label": "card"},
        {"text": "I want my money back", "label": "refund"},
    ] * 3
    rows = [{**row, "text": f"{row['text']} (ticket {i})"} for i, row in enumerate(rows)]
    (folder / "data" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "task.yaml").write_text(
        "name: pii\nkind: classify\ninputs: [text]\noutput:\n  field: label\n  labels: [card, refund]\n"
        f"data:\n  train: data/train.jsonl\ncleaning:\n  redact_pii: {'true' if redact else 'false'}\n"
    )
    return folder


def test_training_refuses_unredacted_pii_unless_allowed(tmp_path: Path) -> None:
    from steerlab.data.dataset import load_dataset
    from steerlab.errors import DataError

    raw = load_task(pii_task(tmp_path, redact=False))
    check_data(raw, workspace=tmp_path / "ws")
    dataset = load_dataset(tmp_path / "ws", raw.name)
    assert dataset.unredacted_pii == {"EMAIL": 3}
    assert any("jane.doe@example.com" in ex.input_text for ex in dataset.train + dataset.dev + dataset.test)
    with pytest.raises(DataError, match="unredacted personal data"):
        dataset.check_trainable()
    dataset.check_trainable(allow_unredacted_pii=True)

    redacted = load_task(pii_task(tmp_path, redact=True))
    check_data(redacted, workspace=tmp_path / "ws2")
    clean_dataset = load_dataset(tmp_path / "ws2", redacted.name)
    assert clean_dataset.unredacted_pii == {}
    texts = [ex.input_text for ex in clean_dataset.train + clean_dataset.dev + clean_dataset.test]
    assert not any("@example.com" in text for text in texts)
    assert any("<EMAIL>" in text for text in texts)  # (near-copies across splits are removed as leakage)
    clean_dataset.check_trainable()
