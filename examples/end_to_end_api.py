"""The end-to-end run from Python: your own model and your own objectives through RunSettings and run_all.

Registers two objectives of its own (how often an answer uses the word w5, and w6), then samples preference data
from a base model, trains a PARM, sweeps alpha and writes the report, as `peft-pblora run` does (tiny random Llama
here, so it takes seconds and the texts are noise; give `base_model` a Hugging Face id or path for a real run).

    python examples/end_to_end_api.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from peft_pblora.pipeline import RunSettings, run_all
from peft_pblora.pipeline.settings import SCORERS

VOCAB = 64


class WordCount:
    """An objective of your own: any callable (prompts, responses) -> scores with a `name` (the Scorer protocol)."""

    def __init__(self, word: str) -> None:
        self.name, self.word = f"count_{word}", word

    def __call__(self, prompts: list[str], responses: list[str]) -> list[float]:
        return [float(response.split().count(self.word)) for response in responses]


def save_tiny_chat_model(directory: Path) -> None:
    vocab = {"<pad>": 0, "</s>": 1, "<s>": 2, **{f"w{index}": index for index in range(3, VOCAB)}}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", bos_token="<s>", unk_token="<pad>"
    )
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}w4 "
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        pad_token_id=0, eos_token_id=1, bos_token_id=2,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def main() -> None:
    SCORERS["count_w5"] = lambda: WordCount("w5")  # added to the built-in objectives, by name
    SCORERS["count_w6"] = lambda: WordCount("w6")
    with tempfile.TemporaryDirectory() as workspace:
        save_tiny_chat_model(Path(workspace) / "model")
        settings = RunSettings(
            output_dir=f"{workspace}/run", base_model=f"{workspace}/model", objectives=["count_w5", "count_w6"],
            train_prompts=6, test_prompts=3, samples_per_prompt=4, sample_tokens=8, epochs=1, batch_size=2,
            grid_step=0.5, sweep_tokens=6, max_length=64, target_modules=["q_proj", "v_proj"], show_progress=False,
        )  # fmt: skip
        metrics = run_all(settings)
        print(f"artefacts: {sorted(path.name for path in settings.path.iterdir())}")
        print(f"hypervolume: sweep {metrics['hypervolume_sweep']:.3f}, base {metrics['hypervolume_base']:.3f}")
        print(f"trainable parameters: {metrics['trainable_parameters']}")


if __name__ == "__main__":
    main()
