"""Quickstart: a PBLoRA adapter steered by a preference vector, on a tiny random Llama (no download).

python examples/quickstart.py
"""

from __future__ import annotations

import tempfile

import torch
from peft import PeftModel, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

import peft_pblora  # noqa: F401  (registers PBLoRA with PEFT; import it before loading an adapter)
from peft_pblora import PBLoraConfig


def tiny_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=128,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    return LlamaForCausalLM(config).eval()


def main() -> None:
    config = PBLoraConfig(
        r1=4,
        r2=4,
        num_preferences=2,
        lora_alpha=8,
        lora_dropout=0.05,
        target_modules=["q_proj", "k_proj", "v_proj"],
        objective_names=["helpful", "harmless"],
        task_type="CAUSAL_LM",
        init_weights=False,  # random B so the untrained adapter visibly steers
    )
    model = get_peft_model(tiny_llama(), config).eval()  # eval: new adapter dropout layers start in train mode
    model.print_trainable_parameters()

    prompts = torch.randint(3, 128, (1, 6)).repeat(3, 1)  # one prompt, three users
    alphas = [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]  # one preference row per user, in one batch
    out = model.generate(
        input_ids=prompts,
        attention_mask=torch.ones_like(prompts),
        preference=alphas,
        max_new_tokens=8,
        do_sample=False,
        num_beams=2,
        pad_token_id=0,
    )
    for alpha, tokens in zip(alphas, out[:, prompts.shape[1] :].tolist(), strict=True):
        print(f"alpha={alpha}: {tokens}")

    model.set_preference([0.3, 0.7])
    expected = model(prompts).logits
    with tempfile.TemporaryDirectory() as directory:
        model.save_pretrained(directory)
        loaded = PeftModel.from_pretrained(tiny_llama(), directory)
        print("objectives in alpha order:", loaded.peft_config["default"].objective_names)
        same = torch.equal(loaded(prompts, preference=[0.3, 0.7]).logits, expected)
        print("save/load exact:", same)

    plain = model.merge_and_unload(preference=[0.3, 0.7])
    gap = (plain(prompts).logits - expected).abs().max().item()
    print(f"merged for alpha=[0.3, 0.7]: plain {type(plain).__name__}, max |merged - unmerged| = {gap:.2e}")


if __name__ == "__main__":
    main()
