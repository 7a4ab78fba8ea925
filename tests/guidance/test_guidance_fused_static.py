"""The fused path on a static cache of 2B rows, eager and compiled by generate, gives the dynamic path's tokens."""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.utils import counters
from transformers import CompileConfig, GenerationConfig

from ..conftest import left_padded_batch
from .test_guidance_fused import DECODING, fused_generate, parm_and_base_copy


def compile_on_cpu() -> CompileConfig:
    """generate compiles only on accelerators unless told; the eager backend captures graphs without codegen."""
    config = CompileConfig(backend="eager", mode=None, fullgraph=False)
    config._compile_all_devices = True
    return config


@pytest.mark.parametrize("decoding", ["greedy", "beams", "sampling"])
def test_static_fused_cache_equals_the_dynamic_one(arch, decoding):
    parm, _ = parm_and_base_copy(arch)
    ids, mask = left_padded_batch()
    dynamic = fused_generate(parm, ids, mask, **DECODING[decoding])
    static = fused_generate(parm, ids, mask, cache_implementation="static", **DECODING[decoding])
    torch.testing.assert_close(static, dynamic, rtol=0, atol=0)


def test_a_generation_config_asking_for_a_static_cache_gets_the_fused_static_cache():
    parm, _ = parm_and_base_copy("llama", core="per_objective", r2=4)
    ids, mask = left_padded_batch()
    config = GenerationConfig(max_new_tokens=6, min_new_tokens=6, pad_token_id=0, cache_implementation="static")
    static = fused_generate(parm, ids, mask, generation_config=config)
    assert config.cache_implementation == "static", "the caller's generation config was changed"
    torch.testing.assert_close(static, fused_generate(parm, ids, mask), rtol=0, atol=0)


def test_compiled_fused_step_equals_the_eager_one_without_graph_breaks():
    torch._dynamo.reset()
    parm, _ = parm_and_base_copy("llama")
    ids, mask = left_padded_batch()
    eager = fused_generate(parm, ids, mask)
    counters.clear()
    compiled = fused_generate(parm, ids, mask, cache_implementation="static", compile_config=compile_on_cpu())
    torch.testing.assert_close(compiled, eager, rtol=0, atol=0)
    assert counters["stats"]["unique_graphs"] >= 1, "generate did not compile the fused decoding step"
    assert not counters["graph_break"], f"the fused step broke the graph: {dict(counters['graph_break'])}"
