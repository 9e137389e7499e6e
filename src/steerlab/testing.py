"""Tiny randomly initialised models for fast tests, built locally with no hub access.

They go through exactly the loading code real models use (``save_pretrained`` directory →
:class:`~steerlab.models.local.TransformersModel`), so the fast suite exercises real code paths
in seconds. Two flavours mirror the embedded defaults: a Qwen2-architecture model with a chat
template, and a Gemma3-architecture base model without one (with sliding-window layers).
Their outputs are meaningless but deterministic for a given seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

__all__ = ["KB_DOCS", "TINY_CHAT_TEMPLATE", "build_tiny_model", "build_tiny_tokenizer", "write_kb"]

_CORPUS = [
    "The customer asked for a refund because the card payment failed twice.",
    "Please reset my password; I cannot log in to the banking app.",
    "Where is my parcel? The delivery was due on Monday.",
    "positive negative neutral refund billing technical account other",
    "Classify the message into one of the categories and answer with the label only.",
    "The capital of France is Paris. The sky is blue. Two plus two is four.",
    '{"category": "billing", "priority": "high", "next_step": "escalate"}',
]

TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "{% if not (loop.last and continue_final_message) %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_tokenizer(vocab_size: int = 384):  # -> PreTrainedTokenizerFast
    """A byte-level BPE tokenizer trained in a blink on a built-in corpus: encodes any text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<bos>"]
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
    )


def build_tiny_model(
    path: str | Path,
    *,
    flavour: Literal["chat", "base"] = "chat",
    seed: int = 0,
) -> Path:
    """Write a few-MB random-weight causal LM + tokenizer to ``path`` and return it.

    ``chat``: Qwen2 architecture with a chat template (like qwen2.5-coder-0.5b-instruct).
    ``base``: Gemma3 architecture, no chat template, BOS added, sliding-window layers (like
    gemma-3-270m, with a window small enough that tests cross it).
    """
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    path = Path(path)
    tokenizer = build_tiny_tokenizer()
    vocab = len(tokenizer)
    if flavour == "chat":
        from transformers import Qwen2Config

        tokenizer.chat_template = TINY_CHAT_TEMPLATE
        config = Qwen2Config(
            vocab_size=vocab,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=1024,
            initializer_range=0.5,  # wide enough that random outputs vary token to token
            tie_word_embeddings=True,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    elif flavour == "base":
        from transformers import Gemma3TextConfig

        tokenizer.bos_token = "<bos>"
        tokenizer.add_bos_token = True
        tokenizer.eos_token = "<|endoftext|>"
        config = Gemma3TextConfig(
            vocab_size=vocab,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=32,
            sliding_window=8,
            layer_types=["sliding_attention", "full_attention"],
            max_position_embeddings=1024,
            initializer_range=0.5,  # wide enough that random outputs vary token to token
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    else:
        raise ValueError(f"flavour must be 'chat' or 'base', got {flavour!r}")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


KB_DOCS = {
    "returns.md": (
        "# Returns\n\n## Kayaks and canoes\n\nBoats can be returned within 41 days if the hull is "
        "unscratched. A restocking fee of $65 applies to every boat return.\n\n"
        "## Footwear\n\nShoes worn outdoors cannot be returned, only exchanged for a new size.\n"
    ),
    "shipping.md": (
        "# Shipping\n\n## Warehouses\n\nOrders ship from Tacoma, Boise and Chattanooga.\n\n"
        "## Fuel canisters\n\nGas canisters travel by ground only, never by air, because of hazmat rules.\n"
    ),
    "gift-cards.txt": (
        "Gift cards never expire and carry no fees. Check a balance by texting FERNBAL to 41772.\n"
    ),
}


def write_kb(folder: Path, docs: dict[str, str | bytes] | None = None) -> Path:
    """Write a small knowledge base (``KB_DOCS`` by default) for retrieval tests."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in (KB_DOCS if docs is None else docs).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder
