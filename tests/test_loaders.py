"""Loaders: every kind of bad input names its file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from steerlab.data.loaders import load_examples
from steerlab.errors import DataError


def load(path: Path, **kwargs):
    return load_examples(path, inputs=kwargs.pop("inputs", ["text"]), output_field="label", **kwargs)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_jsonl_csv_parquet_and_chat_load_the_same_examples(tmp_path: Path) -> None:
    rows = [{"text": "card lost", "label": "card"}, {"text": "refund, please", "label": "refund"}]
    jsonl = write(tmp_path, "a.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    csv = write(tmp_path, "a.csv", 'text,label\ncard lost,card\n"refund, please",refund\n')
    chat = write(
        tmp_path,
        "chat.jsonl",
        "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "system", "content": "Classify."},
                        {"role": "user", "content": r["text"]},
                        {"role": "assistant", "content": r["label"]},
                    ]
                }
            )
            + "\n"
            for r in rows
        ),
    )
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = tmp_path / "a.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    loaded = [load(p) for p in (jsonl, csv, chat, parquet)]
    for examples in loaded:
        assert [(e.inputs, e.output) for e in examples] == [
            ({"text": "card lost"}, "card"),
            ({"text": "refund, please"}, "refund"),
        ]
        assert [e.id for e in examples] == [e.id for e in loaded[0]]
    assert loaded[2][0].meta == {"system": "Classify."}
    assert [e.line for e in loaded[1]] == [2, 3]


def test_csv_line_numbers_count_quoted_newlines(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", 'text,label\n"two\nlines",a\nthird,b\n')
    assert [e.line for e in load(path)] == [2, 4]


BAD_INPUTS = {
    "invalid JSON line": (
        "a.jsonl",
        '{"text":"ok","label":"x"}\n{"text": "oops"\n',
        r"a\.jsonl:2: invalid JSON",
    ),
    "wrong encoding": (
        "b.jsonl",
        b'{"text":"ok","label":"x"}\n{"text":"caf\xe9","label":"x"}\n',
        r"b\.jsonl:2: .*UTF-8",
    ),
    "missing field": (
        "c.jsonl",
        '{"text":"ok","label":"x"}\n{"txt":"ok","label":"x"}\n',
        r"c\.jsonl:2: field 'text': missing",
    ),
    "missing output": ("d.jsonl", '{"text":"ok"}\n', r"d\.jsonl:1: field 'label': missing"),
    "wrong type": ("e.jsonl", '{"text":["a"],"label":"x"}\n', r"e\.jsonl:1: field 'text': expected text"),
    "empty file": ("f.jsonl", "", r"f\.jsonl: file is empty"),
    "only blank lines": ("g.jsonl", "\n\n", r"g\.jsonl: file has no examples"),
    "10 MB single line": (
        "h.jsonl",
        '{"text":"' + "a" * 10_000_000 + '","label":"x"}\n',
        r"h\.jsonl:1: line is 10,000,023 bytes",
    ),
    "csv extra cell": ("i.csv", "text,label\nhello,y,z\n", r"i\.csv:2: row has 3 cells"),
    "csv missing cell": ("j.csv", "text,label\nhello\n", r"j\.csv:2: field 'label'"),
    "not an object": ("k.jsonl", "[1, 2]\n", r"k\.jsonl:1: expected a JSON object"),
    "bad chat role": (
        "l.jsonl",
        '{"messages":[{"role":"bot","content":"hi"}]}\n',
        r"l\.jsonl:1: field 'messages\[0\]'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_names_file_line_and_field(tmp_path: Path, case: str) -> None:
    name, content, pattern = BAD_INPUTS[case]
    path = write(tmp_path, name, content)
    with pytest.raises(DataError, match=pattern):
        load(path)


def test_json_outputs_are_parsed_for_extract_tasks(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", 'text,label\nhi,"{""a"": 1}"\nbad,not json\n')
    with pytest.raises(DataError, match=r"x\.csv:3: field 'label': expected a JSON object"):
        load(path, output_kind="json")
