"""Serve several users with different preferences in one batch: one guided generate call, one alpha row per user.

A frozen base model is steered by a PARM (tiny random Llamas here, so the texts are noise); each row of the batch
gets its own alpha, and the result equals serving each user alone.

    python examples/serve_many_preferences.py
"""

from __future__ import annotations

import torch
from peft import get_peft_model
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from peft_pblora import PBLoraConfig, guided_generate

VOCAB = 64


def word_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {"<pad>": 0, "</s>": 1, "<s>": 2, **{f"w{index}": index for index in range(3, VOCAB)}}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", bos_token="<s>", unk_token="<pad>"
    )


def tiny_llama(seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        pad_token_id=0, eos_token_id=1, bos_token_id=2,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


def main() -> None:
    tokenizer = word_tokenizer()
    base = tiny_llama(seed=0)
    parm_config = PBLoraConfig(
        r1=2, r2=2, num_preferences=2, objective_names=["helpful", "harmless"], target_modules=["q_proj", "v_proj"],
        lora_dropout=0.0, init_weights=False,  # a random adapter stands in for a trained PARM
    )  # fmt: skip
    parm = get_peft_model(tiny_llama(seed=1), parm_config).eval()
    users = {"alice": [1.0, 0.0], "bob": [0.5, 0.5], "carol": [0.0, 1.0]}
    prompts = ["w10 w11 w12", "w20 w21", "w30 w31 w32 w33"]
    settings = dict(beta=0.5, max_new_tokens=6, do_sample=False)
    batched = guided_generate(base, parm, tokenizer, prompts, list(users.values()), **settings)
    alone = [
        guided_generate(base, parm, tokenizer, [prompt], alpha, **settings)[0]
        for prompt, alpha in zip(prompts, users.values(), strict=True)
    ]
    for (user, alpha), prompt, text in zip(users.items(), prompts, batched, strict=True):
        print(f"{user} alpha={alpha} prompt={prompt!r}: {text!r}")
    print(f"one batch == one call per user: {batched == alone}")


if __name__ == "__main__":
    main()
