"""The compiled guide step (static cache + torch.compile) gives the cache-free reference's tokens."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.utils import counters

from peft_pblora import GenARMGuidance, PARMGuidance

from ..conftest import ALPHAS, BASE_MODELS, CacheFreeGuidance, generate, left_padded_batch, strong_parm, tiny_llama

EAGER_GRAPH = {"backend": "eager"}  # dynamo captures the step as a graph; no code generation, so the suite stays fast


@pytest.mark.parametrize(
    "decoding", [dict(do_sample=False), dict(do_sample=False, num_beams=3, num_return_sequences=2)]
)
def test_compiled_parm_guidance_equals_the_reference(arch, decoding):
    base = BASE_MODELS[arch](seed=10)
    parm = strong_parm(arch)
    ids, mask = left_padded_batch()
    compiled = PARMGuidance(
        parm, ALPHAS, beta=0.5, attention_mask=mask, compile=True, max_new_tokens=6, compile_options=EAGER_GRAPH
    )
    reference = CacheFreeGuidance([parm], [[1.0]] * 3, mask, beta=0.5, preferences=ALPHAS)
    torch.testing.assert_close(
        generate(base, ids, mask, compiled, **decoding), generate(base, ids, mask, reference, **decoding)
    )


def test_a_new_processor_reuses_the_compiled_step_without_recompiling():
    base = tiny_llama(seed=10)
    parm = strong_parm("llama")
    ids, mask = left_padded_batch()
    settings = dict(compile=True, max_new_tokens=6, compile_options=EAGER_GRAPH, attention_mask=mask)
    generate(base, ids, mask, PARMGuidance(parm, ALPHAS, **settings))
    counters.clear()
    second = generate(base, ids, mask, PARMGuidance(parm, ALPHAS[::-1], **settings))
    assert counters["stats"]["unique_graphs"] == 0, "a new preference must not recompile the step"
    reference = CacheFreeGuidance([parm], [[1.0]] * 3, mask, beta=1.0, preferences=ALPHAS[::-1])
    torch.testing.assert_close(second, generate(base, ids, mask, reference))


def test_inductor_compiled_step():
    base = tiny_llama(seed=10)
    parm = strong_parm("llama")
    ids, mask = left_padded_batch()
    compiled = PARMGuidance(parm, ALPHAS, attention_mask=mask, compile=True, max_new_tokens=6)
    reference = CacheFreeGuidance([parm], [[1.0]] * 3, mask, beta=1.0, preferences=ALPHAS)
    torch.testing.assert_close(generate(base, ids, mask, compiled), generate(base, ids, mask, reference))


def test_compiled_genarm_guidance():
    base = tiny_llama(seed=10)
    arms = [tiny_llama(seed=seed) for seed in (21, 22)]
    ids, mask = left_padded_batch()
    alphas = [[0.3, 0.7], [1.0, 0.0], [0.5, 0.5]]
    compiled = GenARMGuidance(arms, alphas, 0.5, mask, compile=True, max_new_tokens=6, compile_options=EAGER_GRAPH)
    torch.testing.assert_close(
        generate(base, ids, mask, compiled), generate(base, ids, mask, CacheFreeGuidance(arms, alphas, mask, 0.5))
    )


def test_compiled_guidance_needs_max_new_tokens_and_respects_it():
    parm = strong_parm("llama")
    with pytest.raises(ValueError, match="needs max_new_tokens"):
        PARMGuidance(parm, [0.5, 0.5], compile=True)
    ids, mask = left_padded_batch()
    short = PARMGuidance(
        parm, ALPHAS, attention_mask=mask, compile=True, max_new_tokens=2, compile_options=EAGER_GRAPH
    )
    with pytest.raises(ValueError, match="static cache holds 2 new tokens"):
        generate(tiny_llama(seed=10), ids, mask, short, max_new_tokens=4, min_new_tokens=4)
