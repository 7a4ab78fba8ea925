"""The run's make-data stage: the candidate answers (shipped, cached or sampled), scored and paired per objective,
or the user's own pairs; and what the later stages read off the pairs (the reward forms, each objective's training
pairs and the prompts they are on)."""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict
from typing import Any

from ..data.candidates import candidates_dir
from ..data.preference_pairs import build_preference_data
from .diagnosis import held_out_prompts
from .fingerprints import fingerprint
from .prompts import shipped_candidates_dir, shipped_candidates_fit
from .reward_forms import RewardForms, reward_forms_of
from .stage_records import StageRecords
from .training import training_pairs
from .user_data import user_preference_data

logger = logging.getLogger("peft_pblora.pipeline")


class MakeDataStage(StageRecords):
    """The make-data stage of a `Run`, which gives the scorers and loads the base model when sampling needs it; the
    stage bookkeeping is `StageRecords`'."""

    scorers: list[Any]
    _results: dict[str, Any]
    _reward_forms: RewardForms | None

    def base(self) -> tuple[Any, Any]:
        raise NotImplementedError

    def make_data(self) -> Any:
        """The preference pairs (`preference_data/`): the train prompts' candidate answers, from the shipped ones
        where they fit the settings or sampled from the base, scored and paired per objective; or the user's own
        pairs (`--preference_pairs`), written as they are without loading a model. Candidates or pairs made from
        other inputs are made anew."""
        if "make-data" not in self._results:
            sampled = self.settings.own_preference_pairs is None
            candidates_current = self._is_current("candidates") if sampled else True
            pairs_current = self._is_current("make-data")
            for stage, current in (("candidates", candidates_current), ("make-data", pairs_current)):
                if not current:
                    self._started(stage)
            data = self._make_data()
            if not candidates_current:
                if self._has_artefacts("candidates"):
                    self._finished("candidates")
                else:  # not sampled: the pairs were all there was to make
                    self.fingerprints.remove("candidates")
            if not pairs_current:  # its inputs now: the candidates it read were made (or copied) just now
                inputs = self._inputs("make-data")
                self._expected["make-data"] = fingerprint("make-data", asdict(self.settings), inputs)
                self._finished("make-data")
            self._reward_forms = reward_forms_of(self.settings, data)
            self._results["make-data"] = data
        return self._results["make-data"]

    @property
    def reward_forms(self) -> RewardForms:
        """The reward forms training uses: the settings', with what they leave open chosen from the pairs."""
        if self._reward_forms is None:
            self.make_data()
        return self._reward_forms

    def _make_data(self) -> Any:
        """make-data's work: the pairs loaded where they are current, else made (and the candidates sampled where
        they are missing)."""
        settings = self.settings
        data_dir = self.path / "preference_data"
        if settings.own_preference_pairs is not None:
            return user_preference_data(settings.own_preference_pairs, data_dir)
        candidates = candidates_dir(data_dir)
        if settings.shipped_data and not candidates.exists() and shipped_candidates_fit(settings):
            shutil.copytree(shipped_candidates_dir(), candidates)
            logger.info("using the shipped sampled and scored answers (--no_shipped_data samples them again)")
        return build_preference_data(
            model=None,
            tokenizer=None,
            prompts=self.train_prompts,
            scorers=self.scorers,
            cache_dir=data_dir,
            num_samples=settings.samples_per_prompt,
            max_new_tokens=settings.sample_tokens,
            batch_size=settings.sample_batch_size,
            seed=settings.seed,
            show_progress=settings.show_progress,
            sentence_variants=settings.sentence_variants,
            system_prompts=settings.sampling_system_prompts,
            pairing=settings.pairing(),
            more_samples_if_few_pairs=settings.more_samples_if_few_pairs,
            prompts_held_out=self._held_out_prompts(),
            load_model=self.base,
            chat_prompts=settings.train_in_chat_format,
        )

    def _held_out_prompts(self) -> list[str]:
        """The train prompts whose pairs `held_out_pair_share` keeps out of training, to measure pair accuracy."""
        settings = self.settings
        return held_out_prompts(self.train_prompts, settings.held_out_pair_share, settings.seed)

    def _train_pair_counts(self) -> dict[str, int]:
        """Each objective's training pairs (the held-out share left out): what an epoch's steps are counted over."""
        names = self.settings.objective_names
        pairs, _ = training_pairs(self.settings, self.make_data(), names, self.train_prompts)
        return {name: len(dataset) for name, dataset in pairs.items()}

    def _pair_coverage(self) -> tuple[dict[str, int], int]:
        """How many prompts each objective's training pairs are on, and how many prompts they are made from: the
        train prompts not held out, or the distinct prompts of the user's own training pairs."""
        settings, names = self.settings, self.settings.objective_names
        pairs, held_out_pairs = training_pairs(settings, self.make_data(), names, self.train_prompts)
        covered = {name: len({str(prompt) for prompt in dataset["prompt"]}) for name, dataset in pairs.items()}
        if settings.own_preference_pairs is not None:
            return covered, len({str(prompt) for dataset in pairs.values() for prompt in dataset["prompt"]})
        return covered, len(set(self.train_prompts) - set(self._held_out_prompts() if held_out_pairs else []))
