"""Helpers shared by the test modules (which import them from here, never from one another).

Tiny randomly initialised models and tokenizers built from a config (fast, exact and offline), the small PARM
trainer the trainer and data tests build, and the cache-free reference the guidance tests compare against.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from datasets import Dataset
from peft import get_peft_model
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    LogitsProcessor,
    LogitsProcessorList,
)

import peft_pblora  # noqa: F401  (registers PBLoRA with PEFT)
from peft_pblora import PARMConfig, PARMTrainer, PBLoraConfig
from peft_pblora.tuners.pblora.preference import expand_preference_rows

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"  # small local copies of the public datasets' schemas

VOCAB_SIZE = 97


def tiny_llama(seed: int = 0, hidden_size: int = 32) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=hidden_size,
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


class CountWord:
    """A scorer counting one word, a reward the tiny vocabulary can vary: deterministic, so checkable by hand."""

    def __init__(self, word: str) -> None:
        self.name, self.word = f"count_{word}", word

    def __call__(self, prompts, responses):
        return [float(response.split().count(self.word)) for response in responses]


# The PARM trainer on a tiny model: two objectives that disagree on every pair.


def disagreeing_datasets(rows: int = 8, seed: int = 0) -> dict[str, Dataset]:
    """Objective 'first_word' prefers answers made of w5, 'second_word' the same answers made of w6."""
    generator = torch.Generator().manual_seed(seed)
    prompts = [" ".join(f"w{int(t)}" for t in torch.randint(10, 90, (4,), generator=generator)) for _ in range(rows)]
    five, six = "w5 w5 w5", "w6 w6 w6"
    return {
        "first_word": Dataset.from_dict({"prompt": prompts, "chosen": [five] * rows, "rejected": [six] * rows}),
        "second_word": Dataset.from_dict({"prompt": prompts, "chosen": [six] * rows, "rejected": [five] * rows}),
    }


def trainer_pblora_config(**overrides) -> PBLoraConfig:
    """The small PBLoRA config the trainer tests train: ranks 2 and 2 on q_proj and v_proj, two preferences."""
    settings = dict(r1=2, r2=2, num_preferences=2, lora_alpha=2, lora_dropout=0.0, target_modules=["q_proj", "v_proj"])
    settings.update(overrides)
    return PBLoraConfig(**settings)


def parm_args(tmp_path, **overrides) -> PARMConfig:
    """A PARMConfig for one quick epoch on the CPU that logs every step and saves nothing."""
    settings = dict(
        output_dir=str(tmp_path / "parm"),
        per_device_train_batch_size=2,
        learning_rate=5e-3,
        num_train_epochs=1,
        beta_r=0.5,
        activation_checkpointing=False,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        seed=3,
        use_cpu=True,
        dataloader_num_workers=0,
    )
    settings.update(overrides)
    return PARMConfig(**settings)


def make_trainer(tmp_path, datasets=None, peft_config=None, **overrides) -> PARMTrainer:
    """A PARMTrainer on tiny_llama(seed=1) and disagreeing_datasets(); overrides go to parm_args."""
    return PARMTrainer(
        model=tiny_llama(seed=1),
        args=parm_args(tmp_path, **overrides),
        train_dataset=datasets if datasets is not None else disagreeing_datasets(),
        processing_class=tiny_tokenizer(),
        peft_config=peft_config if peft_config is not None else trainer_pblora_config(init_weights=False),
    )


# Guided decoding: a cache-free reference, prompts and a guide strong enough to change the tokens.

ALPHAS = [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]


def left_padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Three prompts of lengths 5, 3 and 4, left-padded with id 0."""
    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(3, VOCAB_SIZE, (3, 5), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, :2] = 0
    mask[2, :1] = 0
    return ids.masked_fill(mask == 0, 0), mask


class CacheFreeGuidance(LogitsProcessor):
    """Reference: every step re-runs each guide over the full sequence, no cache, positions from the mask."""

    def __init__(self, guides, weights_per_prompt, prompt_mask, beta, preferences=None):
        self.guides = guides
        self.weights_per_prompt = torch.as_tensor(weights_per_prompt, dtype=torch.float32)  # (prompts, guides)
        self.prompt_mask = prompt_mask
        self.beta = beta
        self.preferences = preferences

    @torch.no_grad()
    def __call__(self, input_ids, scores):
        rows, length = input_ids.shape
        expand = rows // self.prompt_mask.shape[0]
        prompt_mask = self.prompt_mask.repeat_interleave(expand, dim=0)
        mask = torch.cat([prompt_mask, torch.ones(rows, length - prompt_mask.shape[1], dtype=prompt_mask.dtype)], 1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        weights = self.weights_per_prompt.repeat_interleave(expand, dim=0) / self.beta
        result = torch.log_softmax(scores.float(), dim=-1)
        for index, guide in enumerate(self.guides):
            kwargs = {}
            if self.preferences is not None:
                kwargs["preference"] = expand_preference_rows(torch.as_tensor(self.preferences), rows)
            logits = guide(input_ids=input_ids, attention_mask=mask, position_ids=positions, **kwargs).logits[:, -1]
            result = result + weights[:, index : index + 1] * torch.log_softmax(logits.float(), dim=-1)
        return result


def strong_parm(arch: str, seed: int = 0, **overrides):
    """A PBLoRA model whose adapter (lora_alpha 30) is strong enough to change the guided tokens."""
    parm, _ = make_peft_model(arch, seed=seed, lora_alpha=30, **overrides)
    return parm.eval()


def generate(base, ids, mask, processor, **kwargs):
    """base.generate of six new tokens with the logits processor (or none); kwargs override the decoding."""
    settings = dict(max_new_tokens=6, min_new_tokens=6, pad_token_id=0)
    settings.update(kwargs)
    processors = LogitsProcessorList([processor]) if processor is not None else None
    return base.generate(input_ids=ids, attention_mask=mask, logits_processor=processors, **settings)


def cli_arguments(settings: dict) -> list[str]:
    """Run settings as `peft-pblora` command-line options."""
    arguments = []
    for key, value in settings.items():
        if isinstance(value, list):
            arguments += [f"--{key}", *map(str, value)]
        elif isinstance(value, bool):
            arguments += [] if value else [f"--no_{key}"]
        else:
            arguments += [f"--{key}", str(value)]
    return arguments
