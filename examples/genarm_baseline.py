"""The GenARM baseline: k single-objective ARMs combined at decoding time, as one LogitsProcessor.

score = log pi_base + (1 / beta) sum_i alpha_i log pi_ARM_i. It costs one forward per ARM and token where PARM
costs one; it is here to compare against. Tiny random Llamas stand in for the trained ARMs.

    python examples/genarm_baseline.py
"""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM, LogitsProcessorList

from peft_pblora import GenARMGuidance


def tiny_llama(seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        pad_token_id=0, eos_token_id=1, bos_token_id=2,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


def guided(base, arms, alpha, prompt) -> list[int]:
    processor = GenARMGuidance(arms, alpha, beta=0.5)
    output = base.generate(
        prompt, logits_processor=LogitsProcessorList([processor]), max_new_tokens=8, do_sample=False, pad_token_id=0
    )
    return output[0, prompt.shape[1] :].tolist()


def main() -> None:
    base, helpful_arm, harmless_arm = tiny_llama(0), tiny_llama(1), tiny_llama(2)
    prompt = torch.tensor([[2, 10, 11, 12, 13]])
    for alpha in ([1.0, 0.0], [0.5, 0.5], [0.0, 1.0]):
        print(f"alpha={alpha}: {guided(base, [helpful_arm, harmless_arm], alpha, prompt)}")
    alone = guided(base, [helpful_arm], [1.0], prompt)
    combined = guided(base, [helpful_arm, harmless_arm], [1.0, 0.0], prompt)
    print(f"alpha=(1, 0) equals the helpful ARM alone: {combined == alone}")


if __name__ == "__main__":
    main()
