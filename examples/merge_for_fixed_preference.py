"""Merge a PBLoRA adapter at one fixed preference: a plain transformers model with no adapter overhead.

For a deployment where every request uses the same alpha, `merge_and_unload(preference=alpha)` folds
s (B1 W1 A1 + B2 W2(alpha) A2) into the base weights; the merged model gives the adapter's outputs at that alpha.

    python examples/merge_for_fixed_preference.py
"""

from __future__ import annotations

import torch
from peft import get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from peft_pblora import PBLoraConfig


def tiny_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        pad_token_id=0, eos_token_id=1, bos_token_id=2,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


def main() -> None:
    config = PBLoraConfig(r1=2, r2=2, num_preferences=3, target_modules=["q_proj", "v_proj"], init_weights=False)
    model = get_peft_model(tiny_llama(), config).eval()
    alpha = [0.2, 0.3, 0.5]
    ids = torch.randint(3, 64, (2, 7))
    with torch.no_grad():
        adapter_logits = model(input_ids=ids, preference=alpha).logits
        merged = model.merge_and_unload(preference=alpha)
        merged_logits = merged(input_ids=ids).logits
    print(f"merged model type: {type(merged).__name__}")
    print(f"max |merged - adapter| at alpha={alpha}: {(merged_logits - adapter_logits).abs().max().item():.2e}")


if __name__ == "__main__":
    main()
