"""Train a PARM on two conflicting objectives, then steer a frozen base model with it (tiny random models).

Objective "fives" prefers answers made of the word w5, objective "sixes" answers made of w6 (each over the other's
answer and over random words). After a few dozen steps the PARM's reward ranks w5 first at alpha = (1, 0) and w6
first at alpha = (0, 1), and guided decoding of the base model follows alpha.

    python examples/train_and_steer.py
"""

from __future__ import annotations

import tempfile

import torch
from datasets import Dataset
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessorList, PreTrainedTokenizerFast

from peft_pblora import PARMConfig, PARMGuidance, PARMTrainer, PBLoraConfig

VOCAB = 64


def word_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {"<pad>": 0, "</s>": 1, "<s>": 2, **{f"w{index}": index for index in range(3, VOCAB)}}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", bos_token="<s>", unk_token="<pad>"
    )


def tiny_llama(seed: int, layers: int = 2) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=layers, num_attention_heads=4,
        pad_token_id=0, eos_token_id=1, bos_token_id=2,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


def conflicting_data(rows: int = 32) -> dict[str, Dataset]:
    """Each objective prefers its own word over the other objective's word and over random words."""
    generator = torch.Generator().manual_seed(0)

    def words(count: int) -> list[str]:
        return [
            " ".join(f"w{int(t)}" for t in torch.randint(10, VOCAB, (count,), generator=generator))
            for _ in range(rows)
        ]

    prompts, noise = words(4), words(3)
    fives, sixes = "w5 w5 w5", "w6 w6 w6"
    other_or_noise = {
        "fives": [sixes if index % 2 else noise[index] for index in range(rows)],
        "sixes": [fives if index % 2 else noise[index] for index in range(rows)],
    }
    return {
        name: Dataset.from_dict({"prompt": prompts, "chosen": [answer] * rows, "rejected": other_or_noise[name]})
        for name, answer in (("fives", fives), ("sixes", sixes))
    }


def main() -> None:
    tokenizer = word_tokenizer()
    with tempfile.TemporaryDirectory() as output_dir:
        args = PARMConfig(
            output_dir=output_dir, per_device_train_batch_size=4, num_train_epochs=12, learning_rate=3e-2, beta_r=1.0,
            logging_steps=8, report_to="none", save_strategy="no", use_cpu=True, seed=0,
            activation_checkpointing=False, disable_tqdm=True,
        )  # fmt: skip
        peft_config = PBLoraConfig(
            r1=2, r2=2, num_preferences=2, lora_alpha=4, lora_dropout=0.0, target_modules=["q_proj", "v_proj"]
        )
        trainer = PARMTrainer(
            model=tiny_llama(seed=1, layers=1),  # a PARM smaller than the base it will steer
            args=args,
            train_dataset=conflicting_data(),
            eval_dataset=conflicting_data(8),
            processing_class=tokenizer,
            peft_config=peft_config,
        )
        trainer.train()
        metrics = trainer.evaluate()
    for alpha in ("(1,0)", "(0.5,0.5)", "(0,1)"):
        print(
            f"alpha={alpha}: accuracy fives {metrics[f'eval_fives_accuracy@alpha={alpha}']:.2f}, "
            f"sixes {metrics[f'eval_sixes_accuracy@alpha={alpha}']:.2f}"
        )

    parm = trainer.model.eval()
    base = tiny_llama(seed=7)
    alphas = [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
    prompts = ["w20 w21 w22 w23"] * 3
    encoded = tokenizer(prompts, return_tensors="pt")
    guidance = PARMGuidance(parm, alpha=alphas, beta=0.5, attention_mask=encoded.attention_mask)
    output = base.generate(
        **encoded, logits_processor=LogitsProcessorList([guidance]), max_new_tokens=6, do_sample=False,
        pad_token_id=0, output_scores=True, return_dict_in_generate=True,
    )  # fmt: skip
    steps = torch.stack(output.scores, dim=1)  # (rows, new tokens, vocabulary): the guided scores at every step
    mean_gaps = (steps[:, :, 5] - steps[:, :, 6]).mean(dim=1)
    texts = tokenizer.batch_decode(output.sequences[:, encoded.input_ids.shape[1] :], skip_special_tokens=True)
    for alpha, gap, text in zip(alphas, mean_gaps.tolist(), texts, strict=True):
        print(
            f"guided at alpha={alpha}: log p(w5) - log p(w6), mean over the answer's steps = {gap:+.2f}; text {text!r}"
        )


if __name__ == "__main__":
    main()
