"""task.yaml as a user writes it: valid specs load, and every mistake names file, line and field."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel

import steerlab.task as task_module
from steerlab.errors import ConfigError, DataError
from steerlab.task import (
    METRICS_BY_KIND,
    TASK_KINDS,
    Task,
    load_task,
)
from steerlab.task_template import example_task_yaml, write_example_task

ROWS = '{"text": "hello", "category": "a"}\n'


def make_task(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> Path:
    """A task folder holding ``task.yaml`` (dedented) and its files; data/train.jsonl by default."""
    for name, content in {"data/train.jsonl": ROWS, **(files or {})}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    (tmp_path / "task.yaml").write_text(textwrap.dedent(text).lstrip("\n"))
    return tmp_path


def load_error(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> DataError:
    with pytest.raises(DataError) as caught:
        load_task(make_task(tmp_path, text, files))
    return caught.value


CLASSIFY = textwrap.dedent("""
    name: banking77
    kind: classify
    description: Route banking customer messages to an intent.
    inputs:
      - name: text
        description: the customer's message
    output:
      field: category
      labels:
        - name: card_lost
          description: the customer lost a card
        - name: refund
        - name: out_of_scope
      other_label: out_of_scope
    data:
      train: data/train.jsonl
    """).lstrip("\n")
"""Line numbers: kind 2, output 7, labels 9, first label 10-11, other_label 14, data 15, train 16."""


def classify_with(old: str, new: str) -> str:
    """CLASSIFY with one edit; fails loudly if the edit would silently do nothing."""
    assert old in CLASSIFY, old
    return CLASSIFY.replace(old, new)


# --- valid specs -------------------------------------------------------------------------------


def test_classify_loads_with_defaults_and_resolved_paths(tmp_path: Path) -> None:
    task = load_task(make_task(tmp_path, CLASSIFY))
    assert task.name == "banking77"
    assert task.kind == "classify"
    assert [f.name for f in task.inputs] == ["text"]
    assert task.label_names == ["card_lost", "refund", "out_of_scope"]
    assert task.label_descriptions == {
        "card_lost": "the customer lost a card",
        "refund": "",
        "out_of_scope": "",
    }
    assert task.output.other_label == "out_of_scope"
    assert task.json_schema is None
    assert task.dir == tmp_path.resolve()
    assert task.data_paths == {"train": [(tmp_path / "data/train.jsonl").resolve()]}
    assert task.knowledge_base_path is None
    # Sections left out take their documented defaults; metrics follow the kind.
    assert (task.split.test_fraction, task.split.dev_fraction, task.split.seed) == (0.2, 0.1, 13)
    assert task.cleaning.pii_kinds == ("EMAIL", "PHONE", "CARD", "IBAN", "ACCOUNT", "IP", "PERSON")
    assert (task.metrics.primary, task.metrics.guards) == ("accuracy", ("macro_f1",))
    assert task.targets.quality is None
    assert task.volume.monthly_requests == 10_000
    assert task.prices.models == {}


def test_load_accepts_the_file_itself(tmp_path: Path) -> None:
    make_task(tmp_path, CLASSIFY)
    assert load_task(tmp_path / "task.yaml").name == "banking77"


def test_full_spec_with_every_section(tmp_path: Path) -> None:
    task = load_task(
        make_task(
            tmp_path,
            """
            name: banking77
            kind: classify
            inputs: [text, channel]
            output:
              field: category
              labels: [card_lost, refund]
            data:
              train: [data/train.jsonl, data/more.csv]
              test: data/test.csv
              format: auto
              knowledge_base: kb/
            split: {test_fraction: 0.25, dev_fraction: 0.05, seed: 7, stratify: false}
            cleaning: {near_duplicate_threshold: 0.8, max_input_chars: 1000, pii_kinds: [EMAIL]}
            metrics: {primary: macro_f1, guards: [accuracy, weighted_f1]}
            targets: {quality: 0.9, p95_latency_ms: 300, cost_per_1k_usd: 0.5}
            volume: {monthly_requests: 100000}
            prices:
              models:
                gpt-4o-mini: {input_per_1m_tokens_usd: 0.15, output_per_1m_tokens_usd: 0.60}
              hardware: {cpu-2core: {per_hour_usd: 0.10}}
              training_one_off_usd: 25
            """,
            {"data/more.csv": "text,channel,category\n", "data/test.csv": "x\n", "kb/a.md": "# A\n"},
        )
    )
    assert [f.name for f in task.inputs] == ["text", "channel"]
    assert task.data_paths == {
        "train": [(tmp_path / "data/train.jsonl").resolve(), (tmp_path / "data/more.csv").resolve()],
        "test": [(tmp_path / "data/test.csv").resolve()],
        "knowledge_base": [(tmp_path / "kb").resolve()],
    }
    assert task.knowledge_base_path == (tmp_path / "kb").resolve()
    assert task.split.stratify is False
    assert (task.cleaning.near_duplicate_threshold, task.cleaning.max_input_chars) == (0.8, 1000)
    assert task.cleaning.on_invalid_output == "error"
    assert task.metrics.guards == ("accuracy", "weighted_f1")
    assert task.targets.p95_latency_ms == 300
    assert task.prices.models["gpt-4o-mini"].output_per_1m_tokens_usd == 0.60
    assert task.prices.hardware["cpu-2core"].per_hour_usd == 0.10
    assert task.prices.training_one_off_usd == 25


@pytest.mark.parametrize(
    ("labels_yaml", "files"),
    [
        ("labels: [card_lost, refund, 3]", {}),
        ("labels: {card_lost: lost a card, refund: wants money back, 3: }", {}),
        ("labels_file: labels.json", {"labels.json": '["card_lost", "refund", 3]'}),
        (
            "labels_file: meta/labels.json",
            {"meta/labels.json": '{"card_lost": "lost a card", "refund": "wants money back", "3": ""}'},
        ),
    ],
)
def test_labels_as_names_mapping_or_file(tmp_path: Path, labels_yaml: str, files: dict[str, str]) -> None:
    text = f"""
    name: t
    kind: classify
    inputs: text
    output:
      {labels_yaml}
    data: {{train: data/train.jsonl}}
    """
    task = load_task(make_task(tmp_path, text, files))
    assert task.label_names == ["card_lost", "refund", "3"]


def test_labels_file_descriptions_are_read(tmp_path: Path) -> None:
    labels = {"card_lost": "lost it", "refund": "", "out_of_scope": "other"}
    inline = CLASSIFY[CLASSIFY.index("  labels:") : CLASSIFY.index("  other_label")]
    text = classify_with(inline, "  labels_file: categories.json\n")
    task = load_task(make_task(tmp_path, text, {"categories.json": json.dumps(labels)}))
    assert task.label_descriptions == labels
    assert task.output.labels is None


SCHEMA = {
    "type": "object",
    "properties": {"product": {"type": "string"}, "quantity": {"type": "integer"}},
    "required": ["product"],
}


def test_extract_with_inline_schema(tmp_path: Path) -> None:
    task = load_task(
        make_task(
            tmp_path,
            """
            name: orders
            kind: extract
            inputs: [text]
            output:
              field: order
              schema:
                type: object
                properties:
                  product: {type: string}
                  quantity: {type: integer}
                required: [product]
            data: {train: data/train.jsonl}
            """,
        )
    )
    assert task.json_schema == SCHEMA
    assert task.label_names == []
    assert (task.metrics.primary, task.metrics.guards) == ("field_f1", ("schema_validity",))


def test_extract_with_schema_file(tmp_path: Path) -> None:
    task = load_task(
        make_task(
            tmp_path,
            """
            name: orders
            kind: extract
            inputs: [text]
            output: {field: order, schema_file: schema.json}
            data: {train: data/train.jsonl}
            metrics: {primary: exact_match}
            """,
            {"schema.json": json.dumps(SCHEMA)},
        )
    )
    assert task.json_schema == SCHEMA
    assert (task.metrics.primary, task.metrics.guards) == ("exact_match", ("schema_validity",))


def test_answer_with_knowledge_base_guards_citations(tmp_path: Path) -> None:
    text = """
        name: policy-qa
        kind: answer
        inputs: [question]
        output: {field: answer}
        data: {train: data/train.jsonl, knowledge_base: kb}
        """
    task = load_task(make_task(tmp_path, text, {"kb/policies.md": "# Returns\n"}))
    assert (task.metrics.primary, task.metrics.guards) == ("answer_correctness", ("citation_precision",))
    assert task.knowledge_base_path == (tmp_path / "kb").resolve()


def test_answer_without_knowledge_base_has_no_citation_guard(tmp_path: Path) -> None:
    text = """
        name: policy-qa
        kind: answer
        inputs: [question]
        output: {field: answer}
        data: {train: data/train.jsonl}
        """
    assert load_task(make_task(tmp_path, text)).metrics.guards == ()


def test_generate_loads(tmp_path: Path) -> None:
    text = """
        name: summaries
        kind: generate
        inputs: [text]
        output: {field: summary}
        data: {train: data/train.jsonl}
        targets: {quality: 0.35}
        metrics: {guards: []}
        """
    task = load_task(make_task(tmp_path, text))
    assert (task.metrics.primary, task.metrics.guards) == ("rouge_l", ())
    assert task.targets.quality == 0.35


def test_empty_sections_mean_defaults(tmp_path: Path) -> None:
    task = load_task(make_task(tmp_path, CLASSIFY + "split:\nmetrics:\nprices:\n"))
    assert task.split.test_fraction == 0.2
    assert task.metrics.primary == "accuracy"


def test_python_construction_is_the_same_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Config = YAML = Python: the same mapping validates in code, paths against the cwd."""
    make_task(tmp_path, CLASSIFY)
    monkeypatch.chdir(tmp_path)
    loaded = load_task(tmp_path)
    built = Task(**loaded.model_dump(by_alias=True))
    assert built == loaded
    assert built.content_hash() == loaded.content_hash()
    assert built.data_paths == loaded.data_paths


def test_content_hash_is_stable_and_follows_the_labels_file(tmp_path: Path) -> None:
    text = """
        name: t
        kind: classify
        inputs: text
        output: {labels_file: labels.json}
        data: {train: data/train.jsonl}
        """
    first = load_task(make_task(tmp_path / "a", text, {"labels.json": '["x", "y"]'}))
    moved = load_task(make_task(tmp_path / "b", text, {"labels.json": '["x", "y"]'}))
    changed = load_task(make_task(tmp_path / "c", text, {"labels.json": '["x", "z"]'}))
    assert len(first.content_hash()) == 16
    assert first.content_hash() == moved.content_hash()
    assert first.content_hash() != changed.content_hash()


# --- errors name file, line and field ----------------------------------------------------------


def test_typo_at_top_level_names_line_field_and_suggestion(tmp_path: Path) -> None:
    error = load_error(tmp_path, classify_with("kind: classify", "kindd: classify"))
    text = str(error)
    assert text.startswith(f"{tmp_path / 'task.yaml'}:2: field 'kindd': unknown key 'kindd'")
    assert "did you mean 'kind'?" in text
    assert (error.line, error.field) == (2, "kindd")
    # The real key is then "missing" too; the suggestion already says so, once.
    assert "missing required key 'kind'" not in text
    assert error.exit_code == 2


def test_typo_in_nested_key(tmp_path: Path) -> None:
    error = load_error(tmp_path, classify_with("  labels:", "  lables:"))
    assert (error.line, error.field) == (9, "output.lables")
    assert "task.yaml:9: field 'output.lables': unknown key 'lables'; did you mean 'labels'?" in str(error)
    assert (
        "Expected one of: field, labels, labels_file, other_label, schema, schema_file, passages_field."
        in str(error)
    )


def test_typo_inside_a_list_item(tmp_path: Path) -> None:
    error = load_error(
        tmp_path, classify_with("description: the customer lost", "descripton: the customer lost")
    )
    assert (error.line, error.field) == (11, "output.labels[0].descripton")
    assert "did you mean 'description'?" in str(error)


def test_wrong_types_are_reported_together_in_line_order(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        CLASSIFY + "volume:\n  monthly_requests: -5\ntargets:\n  quality: high\n",
    )
    lines = str(error).splitlines()
    path = tmp_path / "task.yaml"
    assert lines[0] == (
        f"{path}:18: field 'volume.monthly_requests': expected a number greater than or equal to 0; got -5"
    )
    assert lines[1] == (
        f"{path}:20: field 'targets.quality': expected a valid number, unable to parse string as a number; "
        "got 'high'"
    )
    assert (error.line, error.field) == (18, "volume.monthly_requests")


def test_wrong_literal_suggests_the_closest(tmp_path: Path) -> None:
    error = load_error(tmp_path, classify_with("kind: classify", "kind: clasify"))
    assert (error.line, error.field) == (2, "kind")
    assert "expected 'classify', 'extract', 'answer' or 'generate'; got 'clasify'" in str(error)
    assert "did you mean 'classify'?" in str(error)


def test_missing_required_key_points_at_the_parent(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        CLASSIFY + "prices:\n  models:\n    gpt-4o-mini:\n      input_per_1m_tokens_usd: 0.15\n",
    )
    assert (error.line, error.field) == (19, "prices.models.gpt-4o-mini.output_per_1m_tokens_usd")
    assert "missing required key 'output_per_1m_tokens_usd': US dollars per million generated tokens." in str(
        error
    )


def test_missing_top_level_section(tmp_path: Path) -> None:
    error = load_error(tmp_path, CLASSIFY.split("data:")[0])
    assert (error.line, error.field) == (1, "data")
    assert "missing required key 'data'" in str(error)


def test_bad_label_item_points_at_the_item(tmp_path: Path) -> None:
    error = load_error(tmp_path, classify_with("    - name: refund\n", "    - name: refund\n    - true\n"))
    assert (error.line, error.field) == (13, "output.labels[2]")
    assert "expected a valid string; got true" in str(error)


def test_invalid_json_schema_points_inside_the_schema(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        name: orders
        kind: extract
        inputs: [text]
        output:
          schema:
            type: object
            properties:
              quantity:
                type: integr
        data: {train: data/train.jsonl}
        """,
    )
    assert (error.line, error.field) == (9, "output.schema.properties.quantity.type")
    assert "not a valid JSON schema" in str(error)


def test_schema_must_describe_an_object(tmp_path: Path) -> None:
    text = """
        name: orders
        kind: extract
        inputs: [text]
        output:
          schema_file: schema.json
        data: {train: data/train.jsonl}
        """
    error = load_error(tmp_path, text, {"schema.json": '{"type": "string"}'})
    assert (error.line, error.field) == (5, "output.schema_file")
    assert "needs type: object" in str(error)


def test_unknown_metric_for_the_kind(tmp_path: Path) -> None:
    error = load_error(tmp_path, CLASSIFY + "metrics:\n  primary: rouge_l\n  guards: [macro_f1x]\n")
    lines = str(error).splitlines()
    assert (error.line, error.field) == (18, "metrics.primary")
    assert (
        "'rouge_l' is a generate metric; a classify task offers accuracy, macro_f1, weighted_f1" in lines[0]
    )
    assert "task.yaml:19: field 'metrics.guards[0]': unknown metric 'macro_f1x'" in lines[1]
    assert "did you mean 'macro_f1'?" in lines[1]


def test_other_label_must_be_a_label(tmp_path: Path) -> None:
    error = load_error(tmp_path, classify_with("other_label: out_of_scope", "other_label: out_of_scop"))
    assert (error.line, error.field) == (14, "output.other_label")
    assert "'out_of_scop' is not one of the labels; did you mean 'out_of_scope'?" in str(error)


def test_rules_for_the_kind(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        name: summaries
        kind: generate
        inputs: [text, text]
        output:
          field: text
          labels: [a, b]
        data: {train: data/train.jsonl}
        split: {test_fraction: 0.6, dev_fraction: 0.5}
        """,
    )
    text = str(error)
    assert (error.line, error.field) == (8, "split.dev_fraction")
    assert "must be below 1" in text
    # Cross-section rules run once every section parses; fix the split and all of them show.
    text = "name: s\nkind: generate\ninputs: [text, text]\noutput:\n  field: text\n  labels: [a, b]\n"
    error = load_error(tmp_path, text + "data: {train: data/train.jsonl}\n")
    lines = str(error).splitlines()
    assert "task.yaml:3: field 'inputs[1]': duplicate input field 'text'" in lines[0]
    assert "task.yaml:5: field 'output.field': 'text' is also an input" in lines[1]
    assert "task.yaml:6: field 'output.labels': only classify tasks have labels" in lines[2]


def test_classify_needs_labels(tmp_path: Path) -> None:
    error = load_error(
        tmp_path, "name: t\nkind: classify\ninputs: text\noutput: {}\ndata: {train: data/train.jsonl}\n"
    )
    assert (error.line, error.field) == (4, "output.labels")
    assert "classify tasks need a label set" in str(error)


def test_citation_guard_needs_a_knowledge_base(tmp_path: Path) -> None:
    text = """
        name: qa
        kind: answer
        inputs: [question]
        output: {field: answer}
        data: {train: data/train.jsonl}
        metrics: {guards: [citation_precision]}
        """
    error = load_error(tmp_path, text)
    assert (error.line, error.field) == (6, "metrics.guards[0]")


def test_missing_referenced_files_name_the_yaml_line(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        name: t
        kind: classify
        inputs: text
        output: {labels_file: nowhere.json}
        data:
          train: [data/train.jsonl, data/gone.csv]
          test: data/test.csv
          knowledge_base: kb
        """,
    )
    lines = str(error).splitlines()
    assert (error.line, error.field) == (4, "output.labels_file")
    assert f"file not found: {(tmp_path / 'nowhere.json').resolve()}" in lines[0]
    assert "task.yaml:6: field 'data.train[1]': file not found" in lines[1]
    assert "task.yaml:7: field 'data.test': file not found" in lines[2]
    assert "task.yaml:8: field 'data.knowledge_base': not found" in lines[3]


def test_paths_read_environment_variables_with_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = classify_with("train: data/train.jsonl", "train: ${STEERLAB_TEST_DATA:-data}/train.jsonl")
    folder = make_task(tmp_path, text, {"elsewhere/train.jsonl": ROWS})
    monkeypatch.delenv("STEERLAB_TEST_DATA", raising=False)
    unset = load_task(folder)
    assert unset.data_paths["train"] == [(tmp_path / "data/train.jsonl").resolve()]
    monkeypatch.setenv("STEERLAB_TEST_DATA", str(tmp_path / "elsewhere"))
    moved = load_task(folder)
    assert moved.data_paths["train"] == [(tmp_path / "elsewhere/train.jsonl").resolve()]
    # The spec's hash holds the path as written, so where the data lives does not change it.
    assert moved.content_hash() == unset.content_hash()


def test_unset_environment_variable_names_the_yaml_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STEERLAB_TEST_DATA", raising=False)
    error = load_error(
        tmp_path, classify_with("train: data/train.jsonl", "train: ${STEERLAB_TEST_DATA}/t.csv")
    )
    assert (error.line, error.field) == (16, "data.train")
    assert "environment variable STEERLAB_TEST_DATA is not set" in str(error)


def test_broken_labels_file(tmp_path: Path) -> None:
    text = "name: t\nkind: classify\ninputs: text\noutput:\n  labels_file: l.json\n"
    text += "data: {train: data/train.jsonl}\n"
    error = load_error(tmp_path, text, {"l.json": '[\n  "a",\n  "b"\n'})
    assert (error.line, error.field) == (5, "output.labels_file")
    assert "l.json:4: not valid JSON" in str(error)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    error = load_error(tmp_path, "name: t\nkind: classify\ninputs: [text\noutput: {}\n")
    assert error.line == 4
    assert "invalid YAML: expected ',' or ']'" in str(error)
    assert "started on line 3" in str(error)


def test_duplicate_keys_are_an_error(tmp_path: Path) -> None:
    error = load_error(tmp_path, "name: t\nname: u\n")
    assert error.line == 2
    assert 'duplicate key "name"' in str(error)


@pytest.mark.parametrize("text", ["", "# nothing yet\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    error = load_error(tmp_path, text)
    assert str(error).startswith(f"{tmp_path / 'task.yaml'}: the file is empty")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    error = load_error(tmp_path, "# a list\n- name: t\n")
    assert error.line == 2
    assert "expected a mapping of keys" in str(error)


def test_no_task_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no task file here"):
        load_task(tmp_path)


# --- the example for `steerlab init` -----------------------------------------------------------


@pytest.mark.parametrize("kind", TASK_KINDS)
def test_written_example_loads(tmp_path: Path, kind: str) -> None:
    path = write_example_task(tmp_path, kind)
    assert path == tmp_path / "task.yaml"
    assert path.read_text() == example_task_yaml(kind)
    task = load_task(tmp_path)
    assert task.kind == kind
    assert task.metrics.primary in METRICS_BY_KIND[kind]
    rows = [json.loads(line) for line in (tmp_path / "data/train.jsonl").read_text().splitlines()]
    assert len(rows) == 12
    fields = {f.name for f in task.inputs} | {task.output.field}
    assert all(set(row) == fields for row in rows)
    if kind == "classify":
        assert {row["label"] for row in rows} == set(task.label_names)
    if kind == "extract":
        from jsonschema import Draft202012Validator

        validator = Draft202012Validator(task.json_schema)
        assert all(validator.is_valid(row["order"]) for row in rows)
    if kind == "answer":
        assert (tmp_path / "kb/policies.md").is_file()
    assert not list(tmp_path.rglob("*.tmp")), "atomic writes leave no temporary files"


def test_example_is_commented_and_shows_every_section() -> None:
    text = example_task_yaml("classify")
    for section in ("name", "kind", "description", "inputs", "output", "data", "split", "cleaning"):
        assert f"\n{section}:" in text
    for section in ("metrics", "targets", "volume", "prices"):
        assert f"\n{section}:" in text
    assert "# labels_file: labels.json" in text
    assert "Default: 0.2." in text
    assert "schema:" not in text
    assert "schema_file" not in text  # only extract tasks have a schema


def test_example_refuses_to_overwrite(tmp_path: Path) -> None:
    write_example_task(tmp_path, "classify")
    (tmp_path / "task.yaml").write_text("# mine\n")
    with pytest.raises(DataError, match=r"refusing to overwrite data/train\.jsonl, task\.yaml"):
        write_example_task(tmp_path, "generate")
    assert (tmp_path / "task.yaml").read_text() == "# mine\n"
    write_example_task(tmp_path, "generate", force=True)
    assert load_task(tmp_path).kind == "generate"


def test_example_refuses_to_replace_existing_data(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data/train.jsonl").write_text("real data\n")
    with pytest.raises(DataError, match=r"refusing to overwrite data/train.jsonl"):
        write_example_task(tmp_path, "classify")
    assert not (tmp_path / "task.yaml").exists()


def test_unknown_example_kind() -> None:
    with pytest.raises(ConfigError, match="unknown task kind 'summarise'"):
        example_task_yaml("summarise")


# --- the spec documents itself -----------------------------------------------------------------


def test_every_field_has_a_description() -> None:
    models = [getattr(task_module, name) for name in task_module.__all__]
    for model in (m for m in models if isinstance(m, type) and issubclass(m, BaseModel)):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"


def test_public_api_is_declared() -> None:
    for name in task_module.__all__:
        assert hasattr(task_module, name), name


def test_banking77_example_reads_its_data_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped example keeps the data out of the repository: $BANKING77_DATA says where it is."""
    example = Path(__file__).resolve().parents[1] / "examples" / "banking77"
    descriptions = json.loads((example / "labels.json").read_text(encoding="utf-8"))
    assert len(descriptions) == 77 and all(len(text.split()) >= 8 for text in descriptions.values())
    names = list(descriptions)
    for split in ("train", "test"):
        rows = "".join(f"message {i} for {name},{name}\n" for i, name in enumerate(names))
        (tmp_path / f"{split}.csv").write_text("text,category\n" + rows)
    monkeypatch.setenv("BANKING77_DATA", str(tmp_path))
    task = load_task(example)
    assert task.data_paths == {"train": [tmp_path / "train.csv"], "test": [tmp_path / "test.csv"]}
    assert task.label_names == names and task.label_descriptions == descriptions
    monkeypatch.setenv("BANKING77_DATA", str(tmp_path / "missing"))
    with pytest.raises(DataError, match=r"file not found: .*missing/train\.csv"):
        load_task(example)
