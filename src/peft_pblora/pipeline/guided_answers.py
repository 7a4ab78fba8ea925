"""The run's guided answers: greedy or sampled decoding for (alpha, prompt) rows by the run's method, the PARM's or
the ARMs' guidance (fused with the base where the PARM shares its weights) or Rewarded Soups' mixed weights."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from peft import PeftModel

from ..evaluation.base_likelihood import answer_nll
from ..guidance.fused import PARMGuidedModel
from ..guidance.processors import GenARMGuidance, PARMGuidance
from ..tuners.pblora.strengths import scale_objective_strengths
from .baselines import weight_soup
from .decoding import decoded_answers
from .model_loading import guidance_reference
from .settings import ONE_REWARD_MODEL_METHODS, RunSettings


class GuidedAnswers:
    """Decoding for a `Run`, which gives the settings, the folder, the trained adapters and the models."""

    settings: RunSettings
    path: Path

    def train(self) -> Path:
        raise NotImplementedError

    def base(self) -> tuple[Any, Any]:
        raise NotImplementedError

    def arm_dir(self, objective: str) -> Path:
        raise NotImplementedError

    def _fresh_parm_base(self) -> Any:
        raise NotImplementedError

    @property
    def objective_strengths(self) -> list[float] | None:
        raise NotImplementedError

    def _answers(
        self,
        rows: Sequence[tuple],
        objective_strengths: list[float] | None = None,
        max_new_tokens: int | None = None,
        sample: bool = False,
    ) -> list[dict]:
        """Answers, greedy or sampled (`decoding.decoded_answers`), of at most `max_new_tokens` (default:
        sweep_tokens) for (alpha, prompt) rows by the run's method: guided by the PARM (each objective's part scaled
        by `objective_strengths`, default: the sweep's) or the ARMs, or decoded by the ARMs' weights mixed at each
        alpha (Rewarded Soups)."""
        self.train()
        base, tokenizer = self.base()
        settings = self.settings
        strengths = self.objective_strengths if objective_strengths is None else objective_strengths
        objectives = settings.objective_names
        reference = self.guidance_reference()
        if settings.method in ONE_REWARD_MODEL_METHODS:
            parm = PeftModel.from_pretrained(self._fresh_parm_base(), str(self.path / "parm_adapter")).eval()
            adapter_objectives = parm.peft_config["default"].objective_names
            if adapter_objectives != objectives:
                raise ValueError(f"the adapter's objectives {adapter_objectives} differ from the run's {objectives}")
            if strengths is not None and any(value != 1.0 for value in strengths):
                scale_objective_strengths(parm, strengths)
            if self.guidance_path == "fused":  # the PARM is the base plus its adapter: one forward over 2B rows
                return self._generate(parm, tokenizer, rows, None, max_new_tokens, sample, lambda alphas: (
                    PARMGuidedModel(
                        parm, alphas, beta=settings.guidance_beta, reference=reference,
                        plausibility=settings.guidance_plausibility,
                    )
                ))  # fmt: skip
            return self._generate(base, tokenizer, rows, lambda alphas, mask: PARMGuidance(
                parm, alphas, beta=settings.guidance_beta, attention_mask=mask, tokenizer=tokenizer,
                reference=reference, plausibility=settings.guidance_plausibility,
            ), max_new_tokens, sample)  # fmt: skip
        if settings.method == "genarm":
            arms = [self._merged_arm(name) for name in objectives]
            return self._generate(base, tokenizer, rows, lambda alphas, mask: GenARMGuidance(
                arms, alphas, beta=settings.guidance_beta, attention_mask=mask, tokenizer=tokenizer,
                reference=reference, plausibility=settings.guidance_plausibility,
            ), max_new_tokens, sample)  # fmt: skip
        arm_weights = [self._merged_arm(name).state_dict() for name in objectives]  # rewarded_soups
        answers: dict[int, dict] = {}
        for alpha in dict.fromkeys(tuple(alpha) for alpha, _ in rows):
            indices = [index for index, (row_alpha, _) in enumerate(rows) if tuple(row_alpha) == alpha]
            soup = weight_soup(base, arm_weights, list(alpha))
            decoded = self._generate(soup, tokenizer, [rows[index] for index in indices], None, max_new_tokens, sample)
            answers.update(zip(indices, decoded, strict=True))
        return [answers[index] for index in range(len(rows))]

    @property
    def guidance_path(self) -> str | None:
        """How the sweep guides: "fused" (the PARM is the base plus its adapter, so base and PARM rows share one
        forward, `PARMGuidedModel`), "separate" (a reward model of its own: PARMGuidance / GenARMGuidance beside the
        base's generate) or None (Rewarded Soups decodes without guidance)."""
        settings = self.settings
        if settings.method == "rewarded_soups":
            return None
        shares_the_base = not (settings.parm_model or settings.parm_layers)
        return "fused" if settings.method in ONE_REWARD_MODEL_METHODS and shares_the_base else "separate"

    def guidance_reference(self) -> Any:
        """What guided decoding takes the reward models' log-ratio to (`model_loading.guidance_reference`)."""
        return guidance_reference(self.settings, *self.base())

    def _merged_arm(self, objective: str) -> Any:
        """One objective's ARM as a plain model: its single-objective adapter merged at preference (1,)."""
        arm = PeftModel.from_pretrained(self._fresh_parm_base(), str(self.arm_dir(objective)))
        return arm.merge_and_unload(preference=[1.0]).eval()

    def _generate(
        self,
        model,
        tokenizer,
        rows: Sequence[tuple],
        processor: Callable | None,
        max_new_tokens: int | None = None,
        sample: bool = False,
        guided_model_for: Callable | None = None,
    ) -> list[dict]:
        """Greedy or sampled answers for (alpha, prompt) rows (`decoding.decoded_answers` with the run's
        settings)."""
        return decoded_answers(
            self.settings, model, tokenizer, rows, processor, guided_model_for, max_new_tokens, sample
        )

    def _answers_nll(self, prompts: Sequence[str], texts: Sequence[str]) -> list[float]:
        """Per answer, the frozen base's mean negative log-likelihood per token of it after its prompt
        (`base_likelihood.answer_nll`, in the sweep's batches): how far the answers leave the base's language."""
        base, tokenizer = self.base()
        return answer_nll(base, tokenizer, prompts, texts, self.settings.sweep_batch_size)
