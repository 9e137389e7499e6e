"""The adapter registry: lineage round-trip, integrity checks, and a merged model equal to base+adapter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from steerlab.data.check import check_data
from steerlab.data.dataset import load_dataset
from steerlab.errors import ConfigError, IntegrityError
from steerlab.models.local import TransformersModel
from steerlab.prompts import load_template
from steerlab.task import load_task
from steerlab.tuning.config import TrainConfig
from steerlab.tuning.examples import encode_splits
from steerlab.tuning.registry import list_adapters, load_adapter, merge_adapter, model_hash, register
from steerlab.tuning.trainer import train
from test_runner import make_task


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: the test machine's 2 cores are shared, and spinning OpenMP threads crawl."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_chat_dir: Path):
    root = tmp_path_factory.mktemp("tuning-registry")
    task = load_task(make_task(root / "task", rows=40))
    check_data(task, workspace=root / "ws")
    dataset = load_dataset(root / "ws", task.name)
    template = load_template("classify")
    model = TransformersModel(tiny_chat_dir, name="tiny-chat", dtype="float32")
    train_set, dev_set = encode_splits(model, task, template, dataset)
    config = TrainConfig(rank=4, alpha=8, learning_rate=1e-2, epochs=2, batch_size=8, precision="float32")
    result = train(model, train_set, root / "run", config, dev_set=dev_set)
    return root / "ws", task, dataset, template, model, result


def test_register_list_and_load_round_trip(trained) -> None:
    workspace, task, dataset, template, model, result = trained
    record = register(
        workspace,
        result,
        base_model=model,
        task_name=task.name,
        dataset_version=dataset.version,
        template=template,
    )
    assert record.id.startswith("lora-") and record.path == workspace / "adapters" / record.id
    assert {"adapter_model.safetensors", "adapter_config.json", "lineage.json"} <= {
        p.name for p in record.path.iterdir()
    }
    assert record.base_model == "tiny-chat"
    assert record.base_model_sha256 == model_hash(Path(model.source))
    assert record.dataset_version == dataset.version and record.template_version == template.version
    assert record.config == result.config
    assert record.lineage["training"]["curve"][-1]["loss"] == pytest.approx(result.final_loss)
    assert record.dev_metrics == {"metric": None, "loss": pytest.approx(result.dev_loss)}
    assert record.lineage["training"]["wall_s"] > 0 and record.created
    # The same recipe registered again is the same entry; a prefix of the id finds it.
    again = register(
        workspace,
        result,
        base_model=model,
        task_name=task.name,
        dataset_version=dataset.version,
        template=template,
    )
    assert again.id == record.id and again.created == record.created
    assert [r.id for r in list_adapters(workspace)] == [record.id]
    assert load_adapter(workspace, record.id[:9]).lineage == record.lineage
    with pytest.raises(ConfigError, match="not in the registry"):
        load_adapter(workspace, "lora-nothing")


@pytest.mark.filterwarnings("ignore::FutureWarning")  # peft 0.21 on transformers 5
def test_merged_model_gives_the_same_logits_as_base_plus_adapter(
    trained, tiny_chat_dir: Path, tmp_path: Path
) -> None:
    workspace, task, dataset, template, model, result = trained
    record = register(
        workspace,
        result,
        base_model=model,
        task_name=task.name,
        dataset_version=dataset.version,
        template=template,
    )
    out = merge_adapter(workspace, record.id, tmp_path / "merged")
    merged = TransformersModel(out, dtype="float32")
    assert json.loads((out / "adapter-lineage.json").read_text())["id"] == record.id

    ids = torch.tensor([merged.encode(template.render(task, dataset.test[0]))])
    base = AutoModelForCausalLM.from_pretrained(tiny_chat_dir, dtype=torch.float32)
    with torch.no_grad():
        base_logits = base(input_ids=ids).logits
        adapted_logits = PeftModel.from_pretrained(base, record.path).eval()(input_ids=ids).logits
        merged_logits = merged.model(input_ids=ids).logits
    # fp32 rounding of W + BA versus Wx + B(Ax): measured 2e-4 at most on logits up to ~18 (the
    # random tiny model has large activations); the adapter itself moves logits by up to ~8.
    assert torch.allclose(merged_logits, adapted_logits, rtol=1e-4, atol=1e-3)
    assert not torch.allclose(base_logits, adapted_logits, atol=1e-2)  # the adapter does change the model
    with pytest.raises(ConfigError, match="not empty"):
        merge_adapter(workspace, record.id, out)


def test_a_tampered_adapter_is_refused(trained, tmp_path: Path) -> None:
    workspace, task, dataset, template, model, result = trained
    record = register(
        workspace,
        result,
        base_model=model,
        task_name=task.name,
        dataset_version=dataset.version,
        template=template,
    )
    copy = tmp_path / "ws"
    shutil.copytree(record.path, copy / "adapters" / record.id)
    weights = copy / "adapters" / record.id / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="do not match"):
        load_adapter(copy, record.id)
