import pytest
import torch

from steerlab.errors import ConfigError
from steerlab.models.device import choose_placement, cpu_supports_bf16


def test_auto_on_cpu_uses_bf16_only_where_native() -> None:
    if torch.cuda.is_available():
        pytest.skip("machine has a GPU")
    placement = choose_placement()
    assert placement.device.type == "cpu"
    assert placement.dtype == (torch.bfloat16 if cpu_supports_bf16() else torch.float32)
    assert placement.reason in placement.describe()


def test_explicit_dtype_is_honoured() -> None:
    placement = choose_placement("cpu", "float32")
    assert placement.dtype == torch.float32
    assert "explicitly" in placement.reason


def test_bad_settings_raise_config_errors() -> None:
    with pytest.raises(ConfigError, match="dtype"):
        choose_placement("cpu", "int3")
    with pytest.raises(ConfigError, match="device"):
        choose_placement("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA"):
            choose_placement("cuda")
