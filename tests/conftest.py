"""Tiny randomly initialised models built from a config: fast, exact and offline."""

from __future__ import annotations

import copy

import pytest
import torch
from peft import get_peft_model
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

import peft_pblora  # noqa: F401  (registers PBLoRA with PEFT)
from peft_pblora import PBLoraConfig

VOCAB_SIZE = 97


def tiny_llama(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    return LlamaForCausalLM(config).eval()


def tiny_gpt2(seed: int = 0) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=VOCAB_SIZE,
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=128,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    return GPT2LMHeadModel(config).eval()


BASE_MODELS = {"llama": tiny_llama, "gpt2": tiny_gpt2}
TARGETS = {"llama": ["q_proj", "k_proj", "v_proj"], "gpt2": ["c_attn"]}


def pblora_config(arch: str = "llama", **overrides) -> PBLoraConfig:
    """A PBLoRA config whose adapter changes the output from the start (random B) and has no dropout."""
    settings = dict(
        r1=2,
        r2=3,
        num_preferences=2,
        lora_alpha=6,
        lora_dropout=0.0,
        target_modules=TARGETS[arch],
        task_type="CAUSAL_LM",
        init_weights=False,
        fan_in_fan_out=arch == "gpt2",
    )
    settings.update(overrides)
    return PBLoraConfig(**settings)


def make_peft_model(arch: str = "llama", seed: int = 0, dtype: torch.dtype = torch.float32, **overrides):
    """Returns (peft_model, untouched copy of its base model)."""
    base = BASE_MODELS[arch](seed).to(dtype)
    reference = copy.deepcopy(base)
    torch.manual_seed(seed + 1)
    return get_peft_model(base, pblora_config(arch, **overrides)), reference


def random_ids(batch: int = 3, length: int = 6, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(3, VOCAB_SIZE, (batch, length), generator=generator)


@pytest.fixture(params=["llama", "gpt2"])
def arch(request) -> str:
    return request.param


def tiny_tokenizer(vocab_size: int = VOCAB_SIZE):
    """A word-level tokenizer built locally: '<pad>'=0, '</s>'=1, '<s>'=2, then 'w3' ... 'w{vocab_size-1}'."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<s>": 2, **{f"w{index}": index for index in range(3, vocab_size)}}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", bos_token="<s>", unk_token="<pad>"
    )


SIMPLE_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['content'] }} {% endfor %}{% if add_generation_prompt %}w4 {% endif %}"
)


def tiny_chat_tokenizer(vocab_size: int = VOCAB_SIZE):
    """tiny_tokenizer with a chat template: the user's words, then 'w4' as the assistant marker."""
    tokenizer = tiny_tokenizer(vocab_size)
    tokenizer.chat_template = SIMPLE_CHAT_TEMPLATE
    return tokenizer
