"""The examples in the public docstrings run and print what they show (they build tiny models offline).

A broken example fails its module's doctest; a removed one fails `test_public_names_have_examples`.
"""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

import peft_pblora

MODULES_WITH_EXAMPLES = [
    "peft_pblora.tuners.pblora.config",
    "peft_pblora.tuners.pblora.cores",
    "peft_pblora.tuners.pblora.model",
    "peft_pblora.tuners.pblora.preference",
    "peft_pblora.tuners.pblora.own_directions",
    "peft_pblora.trainer.parm_config",
    "peft_pblora.trainer.parm_trainer",
    "peft_pblora.guidance.processors",
    "peft_pblora.guidance.fused",
    "peft_pblora.guidance.generate",
    "peft_pblora.evaluation.metrics",
    "peft_pblora.evaluation.plots",
    "peft_pblora.evaluation.scorers",
    "peft_pblora.evaluation.steering_diagnosis",
    "peft_pblora.evaluation.sweep_metrics",
    "peft_pblora.evaluation.answer_quality",
    "peft_pblora.evaluation.steering_verdicts",
    "peft_pblora.evaluation.weight_curves",
    "peft_pblora.evaluation.probe_scores",
    "peft_pblora.evaluation.base_likelihood",
    "peft_pblora.data.length_following",
    "peft_pblora.data.pairing",
    "peft_pblora.data.word_choice_pairs",
    "peft_pblora.trainer.preference_data",
    "peft_pblora.pipeline.reward_forms",
]

PUBLIC_NAMES_WITH_EXAMPLES = [
    "PBLoraConfig",
    "BilinearPreferenceCore",
    "PerObjectivePreferenceCore",
    "DiagonalPreferenceCore",
    "set_preference",
    "validate_preference",
    "PARMConfig",
    "PARMTrainer",
    "PARMGuidance",
    "PARMGuidedModel",
    "GenARMGuidance",
    "guided_generate",
    "validate_beta",
    "hypervolume",
    "mean_inner_product",
    "non_dominated",
    "linearly_supported",
    "normalise",
    "preference_grid",
    "spearman_over_resampled_prompts",
    "pareto_plot",
    "Scorer",
    "VaderPositivity",
    "Conciseness",
    "Thoroughness",
    "PromptRelevance",
    "SequenceClassifierScorer",
    "answer_nll",
]


@pytest.mark.parametrize("module_name", MODULES_WITH_EXAMPLES)
def test_docstring_examples_run(module_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a file relative to the working directory writes here
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False)
    assert result.attempted > 0, f"{module_name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} example lines in {module_name} failed"


@pytest.mark.parametrize("name", PUBLIC_NAMES_WITH_EXAMPLES)
def test_public_names_have_examples(name):
    docstring = inspect.getdoc(getattr(peft_pblora, name)) or ""
    assert "Examples:" in docstring and ">>> " in docstring, f"peft_pblora.{name} lost its example"
