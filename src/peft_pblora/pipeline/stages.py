"""The end-to-end run: make preference data, train a PARM, sweep alpha with guided decoding, report the trade-off.

Each stage writes its artefacts into one folder and is skipped when they are already there and were made from its
current inputs (`fingerprints`), so a re-run resumes; a stage whose inputs changed is redone, and so are the stages
that read what it wrote (`stage_records`). The settings are in `settings`, the prompts in `prompts`, the make-data
stage in `make_data_stage`, the training in `training`, the reward forms in `reward_forms`, the guided answers in
`guided_answers`, the diagnose stage in `diagnose_stage` (its parts in `diagnosis`), the decoding and scoring in
`decoding`, the baselines' parts in `baselines`, the report's files in `report`; the sweep's metrics come from
`peft_pblora.evaluation`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from peft import PeftModel

from ..data.preference_pairs import pairing_record
from ..evaluation import preference_grid, summarise_sweep
from ..evaluation.base_likelihood import mean_nll
from .baselines import ARM_CORE, arm_rank, svd_lora_rank
from .decoding import peak_resident_memory_gib
from .diagnose_stage import DiagnoseStage
from .diagnosis import choose_probe_prompts, warn_about_few_pairs, warn_about_flags
from .fingerprints import CONTINUED_TRAINING, Fingerprints, fingerprint
from .make_data_stage import MakeDataStage
from .model_loading import load_model_and_tokenizer, parm_start
from .prompts import prompt_pool, split_prompts
from .report import write_report_files
from .retraining import (
    FIRST_TRAINING_DIR,
    continued_log,
    continued_settings,
    discard_first_training,
    has_first_training,
    kept_training,
    not_learned_objectives,
    not_passed_by_longer_training,
    own_directions_of,
    recorded_retraining,
    restore_first_training,
    retrained_settings,
    retraining_record,
    set_aside_first_training,
    trains_longer,
    write_retraining,
)
from .reward_forms import RewardForms
from .run_folder import save_settings, saved_settings, write_json_atomic
from .settings import ONE_REWARD_MODEL_METHODS, SVD_LORA_CORE, RunSettings
from .stage_timer import StageTimer
from .training import optimiser_steps, train_adapter

logger = logging.getLogger("peft_pblora.pipeline")


class Run(MakeDataStage, DiagnoseStage):
    """One run folder: its settings, its models (loaded once, when a stage needs them) and its stages."""

    def __init__(self, settings: RunSettings, base: tuple[Any, Any] | None = None) -> None:
        """`base`: an already loaded (model, tokenizer) for `settings.base_model`, e.g. shared by a grid of runs.

        The settings were checked when they were made; the folder's settings.json becomes them. Artefacts found
        without a fingerprint (a folder made before fingerprints) are taken as made with the folder's saved
        settings, before any stage changes what they read."""
        self.settings = settings  # trained for epochs_if_not_learned once the diagnosis asks for it
        self.given_settings = settings
        self.path = settings.path
        self.scorers = settings.make_scorers()
        self.train_prompts, self.test_prompts = split_prompts(settings)
        pool, split = prompt_pool(settings), self.train_prompts + self.test_prompts
        self.probe_prompts = choose_probe_prompts(pool, split, settings.probe_prompts, settings.seed)
        check_count = settings.empty_answer_check_prompts
        self.empty_check_prompts = choose_probe_prompts(pool, split, check_count, settings.seed)
        self._base = base
        self.fingerprints = Fingerprints(self.path)
        self._timer = StageTimer(self.path)
        self._results: dict[str, Any] = {}  # the stages this Run has checked or made: what each returned
        self._expected: dict[str, dict] = {}  # the fingerprint each stage to be made will record
        self._reward_forms: RewardForms | None = None  # known once the pairs are
        self._retraining: dict | None = None  # retraining.json, once training trained for longer
        self._own_directions_of: list[str] | None = None  # where the longer training continues the first
        previous = saved_settings(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._adopt_unrecorded_stages({**asdict(settings), **(previous or {})})
        save_settings(settings)

    @property
    def loaded_base(self) -> tuple[Any, Any] | None:
        """The base (model, tokenizer) if a stage has loaded it, without loading it."""
        return self._base

    def base(self) -> tuple[Any, Any]:
        if self._base is None:
            logger.info("loading base model %s", self.settings.base_model)
            model, tokenizer = load_model_and_tokenizer(self.settings.base_model)
            self._base = (model.to(self.settings.device), tokenizer)
        return self._base

    def timed(self, name: str, stage: Callable[[], Any]) -> Any:
        """Runs `stage`, printing its own seconds and keeping them in timings.json (`StageTimer`)."""
        return self._timer.timed(name, stage)

    def adapter_dirs(self) -> list[Path]:
        """The trained adapters: the PARM's, or one ARM per objective."""
        if self.settings.method in ONE_REWARD_MODEL_METHODS:
            return [self.path / "parm_adapter"]
        return [self.arm_dir(name) for name in self.settings.objective_names]

    # -- stages ------------------------------------------------------------------------------------------------------

    def _fresh_parm_base(self) -> Any:
        """A new copy of the PARM's starting model: `parm_model`, or the base, or its first `parm_layers` layers."""
        return parm_start(self.settings, *self.base())

    def train(self) -> Path:
        """PARM and SVD-LoRA: one adapter for all objectives (`parm_adapter/`). GenARM and Rewarded Soups: one
        single-objective ARM per objective (`arm_adapters/<objective>/`), of rank r2 / k so the A and B budget
        matches the PARM's."""
        if "train" not in self._results:
            self.make_data()
            self._adopt_recorded_retraining()
            if not self._is_current("train"):
                warn_about_few_pairs(*self._pair_coverage())
                self._started("train")
                self._train(self.make_data())
                self._finished("train")
            one = self.settings.method in ONE_REWARD_MODEL_METHODS
            self._results["train"] = self.path / ("parm_adapter" if one else "arm_adapters")
        return self._results["train"]

    def _adopt_recorded_retraining(self) -> None:
        """Takes the kept training's epochs at once where the folder records a retraining made from the given
        settings and these pairs (`retraining.recorded_retraining`), finishing a restore or a discard of the first
        training that a stopped run left."""
        record = recorded_retraining(self.path, self.given_settings, lambda: self._inputs("train")["preference_data"])
        if record is None:
            return
        self._retraining = record
        if kept_training(record) == "first":
            restore_first_training(self.path)  # where a restore stopped half-way, it finishes
            return
        if kept_training(record) == "longer":
            discard_first_training(self.path)
        self.settings = retrained_settings(self.given_settings)
        self._own_directions_of = own_directions_of(record)

    def diagnose(self) -> dict:
        """The diagnose stage (`DiagnoseStage.diagnose`); where it flags an objective `not_learned` and
        `epochs_if_not_learned` trains more steps than the first training, the adapters are trained again for that
        long from the start and diagnosed again, the longer training kept only where its probe passes every objective
        flagged (`retraining`); retraining.json says why and which was kept."""
        record = super().diagnose()
        if self._retraining is None:
            if not self._retrains(record):
                return record
            self._retraining = retraining_record(self.settings, self._inputs("train")["preference_data"], record)
            write_retraining(self.path, self._retraining)
            set_aside_first_training(self.path)
            self.settings = retrained_settings(self.settings)
            self._own_directions_of = own_directions_of(self._retraining)
            self._forget_training()
            self.timed("train again", self.train)
            record = super().diagnose()
        if kept_training(self._retraining) is None:
            record = self._kept_training_diagnosis(record)
        return record

    def _retrains(self, record: dict) -> bool:
        """Whether `record`, the first training's diagnosis, asks for the longer training and it trains more steps."""
        not_learned = not_learned_objectives(record)
        if self.settings.epochs_if_not_learned is None or not not_learned:
            return False
        if not trains_longer(self.settings, self._train_pair_counts()):
            logger.warning(
                "not learned: %s; --epochs_if_not_learned %s trains no more steps than --min_train_steps %s: "
                "not trained again", ", ".join(not_learned), self.settings.epochs_if_not_learned,
                self.settings.min_train_steps,
            )  # fmt: skip
            return False
        how = f"training again for {self.settings.epochs_if_not_learned:g} epochs (--epochs_if_not_learned)"
        if self.settings.retrain_only_not_learned:
            extra = self.settings.epochs_if_not_learned - self.settings.epochs
            how = f"training only their own directions on from this training for {extra:g} more epochs"
        logger.warning("not learned in %g epochs: %s; %s", self.settings.epochs, ", ".join(not_learned), how)
        return True

    def _kept_training_diagnosis(self, longer: dict) -> dict:
        """Keeps the longer training where its probe passes every objective the first flagged `not_learned`, else
        puts the first back (the choice recorded before the files move); returns the kept training's diagnosis."""
        not_passed = not_passed_by_longer_training(self._retraining["not_learned"], longer)
        if not_passed and has_first_training(self.path):
            logger.warning(
                "the %g-epoch training's probe does not pass %s either: the first training is kept",
                self.settings.epochs, ", ".join(not_passed),
            )  # fmt: skip
            self._retraining.update(kept="first", not_passed=not_passed, diagnosis_longer=dict(longer))
            write_retraining(self.path, self._retraining)
            restore_first_training(self.path)
            self.settings, self._own_directions_of = self.given_settings, None
            self._forget_training()
            return super().diagnose()
        if not_passed:  # e.g. the longer adapters copied from a folder whose retraining had not finished
            logger.warning(
                "the %g-epoch training's probe does not pass %s either, but the first training is gone: the longer "
                "one is kept", self.settings.epochs, ", ".join(not_passed),
            )  # fmt: skip
            self._retraining["not_passed"] = not_passed
        discard_first_training(self.path)
        self._retraining["kept"] = "longer"
        write_retraining(self.path, self._retraining)
        return longer

    def _forget_training(self) -> None:
        """Drops this Run's results of training and diagnosing, so they are checked (or made) again."""
        for stage in ("train", "diagnose"):
            self._results.pop(stage, None)

    def _train(self, data: Any) -> None:
        """train's work: the method's adapter(s) trained on `data`, the run's preference pairs
        (`training.train_adapter`): one (folder, objectives, r1, r2, core) per adapter."""
        settings = self.settings
        names = settings.objective_names
        if self._own_directions_of is not None:
            self._continue_first_training(data)
            return
        if settings.method == "parm":
            adapters = [(self.path / "parm_adapter", names, settings.r1, settings.r2, settings.core)]
        elif settings.method == "svd_lora":  # diag(sigma_1..sigma_r1, c alpha): r1 + k directions, the PARM's r1 + r2
            adapters = [(self.path / "parm_adapter", names, svd_lora_rank(settings), len(names), SVD_LORA_CORE)]
        else:
            adapters = [(self.arm_dir(name), [name], settings.r1, arm_rank(settings), ARM_CORE) for name in names]
        _, tokenizer = self.base()
        for adapter_dir, objectives, r1, r2, core in adapters:
            log_dir = self.path if settings.method in ONE_REWARD_MODEL_METHODS else adapter_dir
            train_adapter(
                settings, self.reward_forms, self._fresh_parm_base(), tokenizer, self.train_prompts, data,
                adapter_dir, log_dir, objectives, r1=r1, r2=r2, core=core,
            )  # fmt: skip

    def _continue_first_training(self, data: Any) -> None:
        """The longer training of `retrain_only_not_learned`: the first training's PARM trained on for the extra
        epochs, only the flagged objectives' own directions; its log follows the first's. A first training that is
        gone (the kept longer one's adapter removed since) is made again first."""
        settings, first_dir = self.settings, self.path / FIRST_TRAINING_DIR
        _, tokenizer = self.base()

        def train(run_settings: RunSettings, start: Any, adapter_dir: Path, log_dir: Path, only=None, steps=None):
            train_adapter(
                run_settings, self.reward_forms, start, tokenizer, self.train_prompts, data, adapter_dir, log_dir,
                settings.objective_names, r1=settings.r1, r2=settings.r2, core=settings.core,
                train_only_objectives=only, max_steps=steps,
            )  # fmt: skip

        if not (first_dir / "parm_adapter" / "adapter_config.json").is_file():
            logger.warning("the first training the longer one continues is gone: it is trained again first")
            train(self.given_settings, self._fresh_parm_base(), first_dir / "parm_adapter", first_dir)
            self._fingerprint_first_training(first_dir)
        start = PeftModel.from_pretrained(self._fresh_parm_base(), first_dir / "parm_adapter", is_trainable=True)
        logger.info(
            "training on %s's own directions only, from the first training", ", ".join(self._own_directions_of)
        )
        counts = self._train_pair_counts()  # the steps it adds to the first training's, min_train_steps counted
        extra_steps = optimiser_steps(settings, counts) - optimiser_steps(self.given_settings, counts)
        continued = continued_settings(settings, self.given_settings)
        train(continued, start, self.path / "parm_adapter", self.path, self._own_directions_of, extra_steps)
        first_log_path, log_path = first_dir / "train_log.json", self.path / "train_log.json"
        first_log = json.loads(first_log_path.read_text()) if first_log_path.is_file() else []
        write_json_atomic(log_path, continued_log(first_log, json.loads(log_path.read_text())))
        if self._retraining is not None and kept_training(self._retraining) == "longer":
            discard_first_training(self.path)  # made again above only to continue from

    def _fingerprint_first_training(self, first_dir: Path) -> None:
        """Records the fingerprint of a first training made again into `first_dir`, so that once it is put back (the
        continued training not kept) it counts as current and is not trained a third time."""
        values = super()._stage_values("train", asdict(self.given_settings))
        Fingerprints(first_dir).write("train", fingerprint("train", values, self._inputs("train")))

    def _stage_values(self, stage: str, values: dict[str, Any]) -> dict[str, Any]:
        """As `StageRecords._stage_values`; a continued training is fingerprinted with the objectives it trained."""
        values = super()._stage_values(stage, values)
        if stage == "train" and self._own_directions_of is not None:
            return {**values, CONTINUED_TRAINING: list(self._own_directions_of)}
        return values

    def arm_dir(self, objective: str) -> Path:
        return self.path / "arm_adapters" / objective

    def trainable_parameters(self) -> int:
        """Trainable parameters of the trained adapter(s): the PARM's, or all k ARMs' together. A training continued
        on some objectives' own directions counts the whole adapter, whose other entries the first training trained."""
        counts = [directory / "trainable_parameters.json" for directory in self.adapter_dirs()]
        return sum(json.loads(path.read_text())["trainable_parameters"] for path in counts if path.is_file())

    def sweep(self) -> dict:
        """`sweep.json`: answers (greedy, or sampled: `sweep_decoding`) to the test prompts at every preference of the
        grid, guided by the trained reward model(s) (Rewarded Soups: decoded by the mixed model), and the unguided
        base's, each scored. A sweep already made from the same inputs is kept, its answers scored again by the run's
        scorers."""
        if "sweep" not in self._results:
            diagnosis = self.diagnose()
            sweep_path = self.path / "sweep.json"
            if self._is_current("sweep"):
                result = self._rescored_sweep(json.loads(sweep_path.read_text()))
            else:
                if self.settings.stop_on_flags and not all(item["steers"] for item in diagnosis["objectives"]):
                    flags = "; ".join(warn_about_flags(diagnosis))
                    raise RuntimeError(f"stopped before the sweep (--stop_on_flags): {flags}")
                self._started("sweep")
                result = self._sweep()
                write_json_atomic(sweep_path, result)
                self._finished("sweep")
            self._results["sweep"] = result
        return self._results["sweep"]

    def _sweep(self) -> dict:
        """sweep's work: the grid's answers decoded and scored."""
        base, tokenizer = self.base()
        settings = self.settings
        objectives = settings.objective_names
        alphas = preference_grid(len(objectives), settings.grid_step)
        rows = [(alpha, prompt) for alpha in alphas for prompt in self.test_prompts]
        start = time.perf_counter()
        sample = settings.sweep_decoding == "sample"
        responses = self._answers(rows, sample=sample)
        decoding = {"seconds": time.perf_counter() - start, "new_tokens": sum(r["new_tokens"] for r in responses)}
        decoding["peak_resident_memory_gib"] = peak_resident_memory_gib()  # training and decoding, this process
        decoding["guidance_path"] = self.guidance_path
        decoding["sweep_decoding"] = settings.sweep_decoding
        unguided = self._generate(
            base, tokenizer, [(None, prompt) for prompt in self.test_prompts], None, None, sample
        )
        result = {"objectives": objectives, "method": settings.method, "alphas": alphas, "prompts": self.test_prompts}
        result["guidance_beta"] = None if settings.method == "rewarded_soups" else settings.guidance_beta
        result["objective_strengths"] = self.objective_strengths
        result.update(points=[], decoding=decoding)
        for alpha in alphas:
            texts = [response for (row_alpha, _), response in zip(rows, responses, strict=True) if row_alpha == alpha]
            result["points"].append({"alpha": alpha, **self._score(self.test_prompts, texts)})
        result["base"] = self._score(self.test_prompts, unguided)
        start = time.perf_counter()
        for point in [*result["points"], result["base"]]:
            point["quality"]["base_nll"] = mean_nll(self._answers_nll(self.test_prompts, point["texts"]))
        decoding["base_likelihood_seconds"] = time.perf_counter() - start
        return result

    def _rescored_sweep(self, sweep: dict) -> dict:
        """A kept sweep with its answers scored by the run's scorers (a scorer may have changed since), written back
        where a score changed."""
        prompts = sweep["prompts"]
        rescored = {**sweep, "points": [self._rescored(prompts, point) for point in sweep["points"]]}
        rescored["base"] = self._rescored(prompts, sweep["base"])
        return self._written_if_changed(self.path / "sweep.json", sweep, rescored)

    def report(self) -> dict:
        """`metrics.json` from the sweep (see `peft_pblora.evaluation.summarise_sweep`) with the run's cost, then
        scores.csv, pareto.png and report.md."""
        sweep = self.sweep()
        metrics = summarise_sweep(sweep)
        metrics["method"] = sweep.get("method", "parm")
        metrics["trainable_parameters"] = self.trainable_parameters()
        metrics["guidance_beta"] = sweep.get("guidance_beta")
        metrics["objective_strengths"] = sweep.get("objective_strengths")
        metrics["sweep_decoding"] = self.settings.sweep_decoding  # a kept sweep was made with it (its fingerprint)
        metrics["reward_forms"] = self.reward_forms.record()
        pairing = pairing_record(self.path / "preference_data")
        if pairing is not None:
            metrics["pairing"] = pairing
        if "decoding" in sweep:
            decoding = sweep["decoding"]
            metrics["decoding_tokens_per_second"] = decoding["new_tokens"] / max(decoding["seconds"], 1e-9)
            metrics["peak_resident_memory_gib"] = decoding["peak_resident_memory_gib"]
            metrics["guidance_path"] = decoding.get("guidance_path")
        if self._retraining is not None:
            keys = ("not_learned", "epochs_before", "epochs", "own_directions_only", "kept", "not_passed")
            metrics["retraining"] = {key: self._retraining[key] for key in keys if key in self._retraining}
        diagnosis_path = self.path / "diagnosis.json"
        if diagnosis_path.is_file():
            metrics["steering_diagnosis"] = json.loads(diagnosis_path.read_text())["objectives"]
        write_json_atomic(self.path / "metrics.json", metrics)
        write_report_files(self.given_settings, sweep, metrics, self.path)
        return metrics


def run_stages(run: Run) -> dict:
    """Every stage of `run` in order, each timed and skipped when its artefacts exist; returns the report's metrics."""
    run.timed("make-data", run.make_data)
    run.timed("train", run.train)
    run.timed("diagnose", run.diagnose)
    run.timed("sweep", run.sweep)
    return run.timed("report", run.report)


def run_all(settings: RunSettings) -> dict:
    """All stages of a new `Run` of `settings` (`run_stages`); prints each stage's time."""
    return run_stages(Run(settings))
