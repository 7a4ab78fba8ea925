"""The run's diagnose stage: before the sweep, each objective's held-out pair accuracy and training margin, and a
guided probe at the vertices with an empty-answer check, scored by the run's scorers; with weaker strengths allowed,
the probe repeated at each and the per-objective strengths chosen for the sweep. Also the scoring of answers that the
diagnosis and the sweep share."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..evaluation.answer_quality import is_wordless, text_quality
from ..evaluation.base_likelihood import mean_nll, off_language_share
from ..evaluation.steering_flags import EMPTY_ANSWER_CHECK_TOKENS
from ..trainer.preference_draws import simplex_vertices
from .decoding import scored_answers, scores_of
from .diagnosis import (
    diagnosis_record,
    read_held_out_evaluation,
    read_training_margins,
    summed_log_ratio_objectives,
    warn_about_flags,
)
from .guided_answers import GuidedAnswers
from .reward_forms import RewardForms
from .run_folder import write_json_atomic
from .settings import ONE_REWARD_MODEL_METHODS
from .stage_records import StageRecords
from .strength_search import choose_strengths, diagnosis_with_strength_search

logger = logging.getLogger("peft_pblora.pipeline")


def record_at_fixed_strengths(record: dict, fixed: dict[str, float]) -> dict:
    """A diagnosis record of the probe run at `fixed_objective_strengths`: its one combination named by them (the
    search's record calls the strengths it was given 1) and marked `strengths_fixed`."""
    tried = [{**entry, "objective_strengths": dict(fixed)} for entry in record.get("strengths_tried", [])]
    return {**record, "objective_strengths": dict(fixed), "strengths_tried": tried, "strengths_fixed": True}


class DiagnoseStage(GuidedAnswers, StageRecords):
    """The diagnose stage of a `Run`, which gives the scorers, the check prompts and the trained adapters; the stage
    bookkeeping is `StageRecords`'."""

    scorers: list[Any]
    empty_check_prompts: list[str]
    _results: dict[str, Any]

    @property
    def reward_forms(self) -> RewardForms:
        raise NotImplementedError

    def _pair_coverage(self) -> tuple[dict[str, int], int]:
        raise NotImplementedError

    def diagnose(self) -> dict:
        """`diagnosis.json`, before the sweep: each objective's held-out pair accuracy at the vertices (from training)
        and a guided probe (the probe prompts answered at every vertex, scored by the run's scorers); objectives that
        do not steer are flagged with what to try, as warnings. A diagnosis already made from the same inputs is
        kept, its answers scored again by the run's scorers."""
        if "diagnose" not in self._results:
            self.train()
            path = self.path / "diagnosis.json"
            if self._is_current("diagnose"):
                record = self._rescored_diagnosis(json.loads(path.read_text()))
            else:
                self._started("diagnose")
                record = self._diagnose()
                write_json_atomic(path, record)
                self._finished("diagnose")
                warn_about_flags(record)
            self._results["diagnose"] = record
        return self._results["diagnose"]

    def _held_out_evaluation(self) -> tuple[dict, dict]:
        objectives = self.settings.objective_names
        owners = [""] if self.settings.method in ONE_REWARD_MODEL_METHODS else objectives
        return read_held_out_evaluation(dict(zip(owners, self.adapter_dirs(), strict=True)), objectives)

    def _training_margins(self) -> dict[str, float]:
        """The reward margin over the last third of its training log of each objective rewarded by its summed
        log-ratio to the starting model (`summed_log_ratio_objectives`)."""
        settings = self.settings
        summed_log_ratio = summed_log_ratio_objectives(
            settings.objective_names,
            self.reward_forms.length_normalized_rewards,
            settings.reference_free,
            settings.reference_relative_rewards,
        )
        if settings.method in ONE_REWARD_MODEL_METHODS:
            logs = [self.path / "train_log.json"]
        else:
            logs = [self.arm_dir(name) / "train_log.json" for name in settings.objective_names]
        return read_training_margins(logs, summed_log_ratio)

    def _rescored_diagnosis(self, record: dict) -> dict:
        """A kept diagnosis with the probe's answers scored by the run's scorers and its flags drawn again; where it
        probed several strengths, the strengths chosen again from the rescored answers (the sweep, whose fingerprint
        holds them, is then redone if they changed)."""
        prompts = record["probe"]["prompts"]
        record_of = self._diagnosis_record_of(prompts, record["probe"].get("unguided"))
        if "probe_at_strength" in record:
            points_at = {
                probed["strength"]: [self._rescored(prompts, point) for point in probed["vertices"]]
                for probed in record["probe_at_strength"]
            }
            rescored = choose_strengths(self.settings.objective_names, points_at, record_of)
        else:  # made before every strength's answers were kept
            rescored = record_of([self._rescored(prompts, point) for point in record["probe"]["vertices"]])
            rescored.update({key: record[key] for key in ("objective_strengths", "strengths_tried") if key in record})
        fixed = self.settings.fixed_strengths_by_objective()
        if fixed:
            rescored = record_at_fixed_strengths(rescored, fixed)
        return self._written_if_changed(self.path / "diagnosis.json", record, rescored)

    def _diagnose(self) -> dict:
        """diagnose's work: the probe's answers at the vertices, scored, and the flags; with
        weaker_objective_strengths and an objective that does not steer at full strength, the probe repeated at each
        weaker strength (and at each of stronger_objective_strengths where the probe cannot judge an objective or
        finds one inconclusive), at half the weakest where a vertex stays degenerate at all of them, and the strengths
        that steer best chosen for the sweep (`diagnosis_with_strength_search`)."""
        settings = self.settings
        objectives = settings.objective_names
        if len(self.probe_prompts) < settings.probe_prompts:
            logger.warning(
                "only %d prompts outside the train / test split for the probe (%d asked)",
                len(self.probe_prompts), settings.probe_prompts,
            )  # fmt: skip
        if len(self.empty_check_prompts) < settings.empty_answer_check_prompts:
            logger.warning(
                "only %d prompts outside the train / test split for the empty-answer check (%d asked): each empty "
                "answer counts for more of its share",
                len(self.empty_check_prompts), settings.empty_answer_check_prompts,
            )  # fmt: skip

        fixed = settings.fixed_strengths_by_objective()
        probes = len(self.probe_prompts) >= 2
        unguided = self._unguided_probe_answers() if probes else None

        def probe_at(strength: float) -> list[dict]:
            strengths = [strength * fixed.get(name, 1.0) for name in objectives]
            return self._probe(strengths, unguided) if probes else []

        record_of = self._diagnosis_record_of(self.probe_prompts, unguided)
        record = diagnosis_with_strength_search(
            objectives, settings.weaker_objective_strengths, settings.stronger_objective_strengths, probe_at, record_of
        )
        if unguided:  # every probe has added its likelihood's seconds by now
            record["probe"]["unguided"]["seconds"] = unguided["seconds"]
        return record_at_fixed_strengths(record, fixed) if fixed else record

    def _diagnosis_record_of(
        self, probe_prompts: Sequence[str], unguided: Mapping[str, Any] | None
    ) -> Callable[[list[dict]], dict]:
        """The diagnosis record of the probe's points at the vertices (answers to `probe_prompts`), with the run's
        held-out pair accuracy, training margins and the prompts the training pairs are on, read once, and the base's
        own answers to the probe prompts with its likelihood of them (`unguided`)."""
        objectives = self.settings.objective_names
        held_out, margins = self._held_out_evaluation(), self._training_margins()
        prompts_with_pairs, pair_prompts = self._pair_coverage()
        return lambda points: diagnosis_record(
            objectives, probe_prompts, points, held_out, margins, prompts_with_pairs, pair_prompts, unguided
        )

    def _unguided_probe_answers(self) -> dict:
        """The frozen base's own answers to the probe prompts, decoded as the probe decodes (`texts`), and its mean
        negative log-likelihood per token of them (`base_nll`): what the probe's answers at the vertices are read
        against for word salad; `seconds` counts the time spent decoding and measuring them (the base loaded), and
        each probe adds its own measure's."""
        base, tokenizer = self.base()
        start = time.perf_counter()
        answers = self._generate(
            base, tokenizer, [(None, prompt) for prompt in self.probe_prompts], None, sample=self.samples_probe
        )
        texts = [answer["text"] for answer in answers]
        values = self._answers_nll(self.probe_prompts, texts)
        return {"texts": texts, "base_nll": mean_nll(values), "seconds": time.perf_counter() - start}

    def _probe(self, objective_strengths: list[float], unguided: dict | None = None) -> list[dict]:
        """The probe prompts' guided answers at every vertex (objective order), scored, each vertex's quality with the
        base's mean negative log-likelihood per token of its answers (`base_nll`) and, against the base's own
        answers (`unguided`, whose `seconds` the measure's time is added to), the share of them off the base's
        language (`off_language`)."""
        vertices = simplex_vertices(len(self.settings.objective_names))
        rows = [(vertex, prompt) for vertex in vertices for prompt in self.probe_prompts]
        responses = self._answers(rows, objective_strengths, sample=self.samples_probe)
        size = len(self.probe_prompts)
        points = [
            {"alpha": vertex, **self._score(self.probe_prompts, responses[index * size : (index + 1) * size])}
            for index, vertex in enumerate(vertices)
        ]
        start = time.perf_counter()
        for point in points:
            values = self._answers_nll(self.probe_prompts, point["texts"])
            point["quality"]["base_nll"] = mean_nll(values)
            if unguided and unguided["base_nll"] is not None:
                point["quality"]["off_language"] = off_language_share(values, unguided["base_nll"])
        if unguided:
            unguided["seconds"] += time.perf_counter() - start
        if self.empty_check_prompts:
            for point, shares in zip(points, self._empty_answer_shares(vertices, objective_strengths), strict=True):
                point["empty_answer_check"] = {
                    "prompts": len(self.empty_check_prompts),
                    "new_tokens": self.empty_check_tokens,
                    **shares,
                }
        return points

    @property
    def samples_probe(self) -> bool:
        """Whether the probe and the empty-answer check sample their answers (`probe_decoding`), else greedy."""
        return self.settings.probe_decoding == "sample"

    @property
    def empty_check_tokens(self) -> int:
        """The new tokens the empty-answer check decodes: `EMPTY_ANSWER_CHECK_TOKENS`, at most the sweep's."""
        return min(EMPTY_ANSWER_CHECK_TOKENS, self.settings.sweep_tokens)

    def _empty_answer_shares(
        self, vertices: list[list[float]], objective_strengths: list[float]
    ) -> list[dict[str, float]]:
        """Per vertex, the shares of the empty-answer check's prompts whose guided answer has no word
        (`is_wordless`) in its first `empty_check_tokens` new tokens ("wordless", what the diagnosis reads), and of
        those that ended there ("empty"): a cheap count over many prompts of the empty answers, and of the answers
        that run on in bare markup, that a few probe prompts miss."""
        rows = [(vertex, prompt) for vertex in vertices for prompt in self.empty_check_prompts]
        answers = self._answers(
            rows, objective_strengths, max_new_tokens=self.empty_check_tokens, sample=self.samples_probe
        )
        size = len(self.empty_check_prompts)
        shares = []
        for start in range(0, len(rows), size):
            wordless = [answer for answer in answers[start : start + size] if is_wordless(answer["text"])]
            shares.append({"empty": sum(a["finished"] for a in wordless) / size, "wordless": len(wordless) / size})
        return shares

    @property
    def objective_strengths(self) -> list[float] | None:
        """The PARM's per-objective strengths in the sweep: fixed_objective_strengths' where given; with
        weaker_objective_strengths or stronger_objective_strengths those the diagnosis chose (all 1 while there is no
        diagnosis yet); else None (the adapter as trained)."""
        settings = self.settings
        fixed = settings.fixed_strengths_by_objective()
        if fixed:
            return [fixed[name] for name in settings.objective_names]
        if not settings.searches_objective_strengths():
            return None
        record = self._results.get("diagnose")
        path = self.path / "diagnosis.json"
        if record is None and path.is_file():
            record = json.loads(path.read_text())
        chosen = (record or {}).get("objective_strengths", {})
        return [float(chosen.get(name, 1.0)) for name in settings.objective_names]

    # -- scoring, shared with the sweep -------------------------------------------------------------------------------

    def _scores(self, prompts: Sequence[str], texts: Sequence[str]) -> dict:
        return scores_of(self.scorers, prompts, texts)

    def _score(self, prompts: Sequence[str], responses: Sequence[dict]) -> dict:
        return scored_answers(self.scorers, prompts, responses)

    def _rescored(self, prompts: Sequence[str], point: dict) -> dict:
        """One scored point (a preference's or the base's answers) scored again, its empty and repetitive shares
        measured again from the texts (unfinished needs the token counts, kept as it was); a point without its texts
        (an older sweep) as it is."""
        if "texts" not in point:
            return point
        rescored = {**point, **self._scores(prompts, point["texts"])}
        if "quality" in point:
            rescored["quality"] = {**point["quality"], **text_quality(point["texts"])}
        return rescored

    def _written_if_changed(self, path: Path, old: dict, new: dict) -> dict:
        new = json.loads(json.dumps(new))
        if new != old:
            logger.warning("%s: scored again by the run's scorers, which score its answers otherwise now", path.name)
            write_json_atomic(path, new)
        return new
