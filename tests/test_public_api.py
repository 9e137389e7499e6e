import steerlab
import steerlab.models


def test_public_api_is_declared_and_importable() -> None:
    for module in (steerlab, steerlab.models):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name} is in __all__ but missing"
    assert {"load_model", "Model", "GenerationParams", "LabelScores"} <= set(steerlab.__all__)


def test_importing_steerlab_does_not_load_torch_models() -> None:
    # The CLI's --help must stay fast: importing the package defines things, loads nothing.
    assert steerlab.list_models()[0].name == "gemma-3-270m"
