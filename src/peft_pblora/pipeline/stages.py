"""The end-to-end run: make preference data, train a PARM, sweep alpha with guided decoding, report the trade-off.

Each stage writes its artefacts into one folder and is skipped when they are already there and were made from its
current inputs (`fingerprints`), so a re-run resumes; a stage whose inputs changed is redone, and so are the stages
that read what it wrote. The settings are in `settings`, the prompts in `prompts`, the baselines' parts in
`baselines`, the report's files in `report`; the sweep's metrics come from `peft_pblora.evaluation`.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import load_from_disk
from peft import PeftModel
from tqdm.auto import tqdm

from ..data.chat import chat_texts, left_padding
from ..data.preference_pairs import (
    build_preference_data,
    candidates_cached,
    candidates_dir,
    needs_sampling,
    pairs_cached,
)
from ..evaluation import preference_grid, response_quality, standard_error, summarise_sweep
from ..guidance.fused import PARMGuidedModel
from ..guidance.processors import GenARMGuidance, PARMGuidance
from ..trainer.parm_config import PARMConfig
from ..trainer.parm_trainer import PARMTrainer
from ..tuners.pblora.config import PBLoraConfig
from ..tuners.pblora.strengths import scale_objective_strengths
from .baselines import ARM_CORE, arm_rank, svd_lora_rank, weight_soup
from .diagnosis import (
    choose_probe_prompts,
    diagnosis_record,
    diagnosis_with_weaker_strengths,
    held_out_prompts,
    read_held_out_evaluation,
    read_training_margins,
    split_pairs,
    warn_about_flags,
    write_held_out_evaluation,
)
from .fingerprints import (
    Fingerprints,
    data_hash,
    differences,
    files_hash,
    fingerprint,
    texts_hash,
    with_legacy_settings,
)
from .model_loading import guidance_reference, load_model_and_tokenizer, parm_start
from .prompts import prompt_pool, shipped_candidates_dir, shipped_candidates_fit, split_prompts
from .report import write_report_files
from .run_folder import LEGACY_SETTINGS, save_settings, saved_settings, write_json_atomic
from .settings import ONE_REWARD_MODEL_METHODS, SVD_LORA_CORE, RunSettings
from .user_data import user_preference_data

logger = logging.getLogger("peft_pblora.pipeline")

FINGERPRINTED_STAGES = ("candidates", "make-data", "train", "diagnose", "sweep")  # in the order they run


class Run:
    """One run folder: its settings, its models (loaded once, when a stage needs them) and its stages."""

    def __init__(self, settings: RunSettings, base: tuple[Any, Any] | None = None) -> None:
        """`base`: an already loaded (model, tokenizer) for `settings.base_model`, e.g. shared by a grid of runs.

        The settings were checked when they were made; the folder's settings.json becomes them. Artefacts found
        without a fingerprint (a folder made before fingerprints) are taken as made with the folder's saved
        settings, before any stage changes what they read."""
        self.settings = settings
        self.path = settings.path
        self.scorers = settings.make_scorers()
        self.train_prompts, self.test_prompts = split_prompts(settings)
        self.probe_prompts = choose_probe_prompts(
            prompt_pool(settings), self.train_prompts + self.test_prompts, settings.probe_prompts, settings.seed
        )
        self._base = base
        self.fingerprints = Fingerprints(self.path)
        self._results: dict[str, Any] = {}  # the stages this Run has checked or made: what each returned
        self._expected: dict[str, dict] = {}  # the fingerprint each stage to be made will record
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
        start = time.perf_counter()
        result = stage()
        seconds = time.perf_counter() - start
        timings_path = self.path / "timings.json"
        timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
        timings[name] = round(seconds, 1)
        write_json_atomic(timings_path, timings)
        print(f"[{name}] {seconds:.1f} s", flush=True)
        return result

    # -- fingerprints: which stages are current ----------------------------------------------------------------------

    def adapter_dirs(self) -> list[Path]:
        """The trained adapters: the PARM's, or one ARM per objective."""
        if self.settings.method in ONE_REWARD_MODEL_METHODS:
            return [self.path / "parm_adapter"]
        return [self.arm_dir(name) for name in self.settings.objective_names]

    def _has_artefacts(self, stage: str) -> bool:
        """Whether `stage`'s artefacts are in the folder (whole: every adapter of the run's method)."""
        data_dir = self.path / "preference_data"
        if stage == "candidates":
            return candidates_cached(candidates_dir(data_dir))
        if stage == "make-data":
            return pairs_cached(data_dir)
        if stage == "train":
            return all((directory / "adapter_config.json").is_file() for directory in self.adapter_dirs())
        return (self.path / {"diagnose": "diagnosis.json", "sweep": "sweep.json"}[stage]).is_file()

    def _remove_artefacts(self, stage: str) -> None:
        """Removes `stage`'s artefacts (stale or unfinished) and its fingerprint, so that it is made anew."""
        data_dir = self.path / "preference_data"
        if stage == "candidates":
            paths = [candidates_dir(data_dir)]
        elif stage == "make-data":
            paths = [path for path in data_dir.iterdir() if path.name != "candidates"] if data_dir.is_dir() else []
        elif stage == "train":
            paths = [self.path / "parm_adapter", self.path / "arm_adapters", self.path / "train_log.json"]
        else:
            paths = [self.path / {"diagnose": "diagnosis.json", "sweep": "sweep.json"}[stage]]
        for path in paths:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        self.fingerprints.remove(stage)

    def _inputs(self, stage: str) -> dict[str, str | None]:
        """The hashes of what `stage` reads, as they are in the folder now (None: absent)."""
        if stage in ("candidates", "make-data"):
            inputs = {"prompts": texts_hash(self.train_prompts)}
            if stage == "make-data":
                pairs = self.settings.own_preference_pairs
                inputs["own_pairs"] = data_hash(pairs) if pairs is not None else None
                inputs["candidates"] = files_hash([candidates_dir(self.path / "preference_data")])
            return inputs
        if stage == "train":
            data_dir = self.path / "preference_data"
            return {"preference_data": data_hash(load_from_disk(str(data_dir))) if pairs_cached(data_dir) else None}
        prompts = self.probe_prompts if stage == "diagnose" else self.test_prompts
        inputs = {"adapters": files_hash(self.adapter_dirs()), "prompts": texts_hash(prompts)}
        if stage == "sweep" and self.settings.weaker_objective_strengths:  # the strengths the diagnosis chose
            inputs["objective_strengths"] = repr(self.objective_strengths)
        return inputs

    def _adopt_unrecorded_stages(self, previous: dict[str, Any]) -> None:
        """Records a fingerprint for each stage whose artefacts are here without one (a folder made before
        fingerprints, or artefacts copied in): made with the folder's previous settings from what is here now, and
        from the prompts the diagnosis and the sweep record they answered (the prompts drawn now may differ)."""
        for stage in FINGERPRINTED_STAGES:
            if self.fingerprints.read(stage) is None and self._has_artefacts(stage):
                inputs = self._inputs(stage)
                answered = self._answered_prompts(stage)
                if answered is not None:
                    inputs["prompts"] = texts_hash(answered)
                self.fingerprints.write(stage, fingerprint(stage, previous, inputs))

    def _answered_prompts(self, stage: str) -> list[str] | None:
        """The prompts the folder's diagnosis (its probe) or sweep answered, as recorded there (None: not recorded)."""
        if stage not in ("diagnose", "sweep"):
            return None
        record = json.loads((self.path / {"diagnose": "diagnosis.json", "sweep": "sweep.json"}[stage]).read_text())
        prompts = record.get("probe", {}).get("prompts") if stage == "diagnose" else record.get("prompts")
        return list(prompts) if prompts is not None else None

    def _is_current(self, stage: str) -> bool:
        """Whether `stage`'s artefacts are here and were made from its current inputs. If not, they are removed
        (and the reason logged) and the stage is to be made: `_started` before, `_finished` after."""
        expected = fingerprint(stage, asdict(self.settings), self._inputs(stage))
        recorded = with_legacy_settings(stage, self.fingerprints.read(stage), LEGACY_SETTINGS)
        if self._has_artefacts(stage):
            if recorded is None:  # copied in after this Run started: taken as made with these settings
                logger.info("%s: found without a fingerprint, taken as made with these settings", stage)
                self.fingerprints.write(stage, expected)
                return True
            if recorded == expected:
                return True
            logger.warning("%s is redone: %s", stage, "; ".join(differences(recorded, expected)))
        elif recorded is not None and not recorded.get("unfinished"):
            logger.warning("%s is redone: its artefacts are gone", stage)
        self._remove_artefacts(stage)
        self._expected[stage] = expected
        return False

    def _started(self, stage: str) -> None:
        self.fingerprints.mark_unfinished(stage, self._expected[stage])

    def _finished(self, stage: str) -> None:
        self.fingerprints.write(stage, self._expected.pop(stage))

    # -- stages ------------------------------------------------------------------------------------------------------

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
            self._results["make-data"] = data
        return self._results["make-data"]

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
        model, tokenizer = self.base() if needs_sampling(data_dir) else (None, None)
        return build_preference_data(
            model=model,
            tokenizer=tokenizer,
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
        )

    def _fresh_parm_base(self) -> Any:
        """A new copy of the PARM's starting model: `parm_model`, or the base, or its first `parm_layers` layers."""
        return parm_start(self.settings, *self.base())

    def train(self) -> Path:
        """PARM and SVD-LoRA: one adapter for all objectives (`parm_adapter/`). GenARM and Rewarded Soups: one
        single-objective ARM per objective (`arm_adapters/<objective>/`), of rank r2 / k so the A and B budget
        matches the PARM's."""
        if "train" not in self._results:
            self.make_data()
            if not self._is_current("train"):
                self._started("train")
                self._train(self.make_data())
                self._finished("train")
            one = self.settings.method in ONE_REWARD_MODEL_METHODS
            self._results["train"] = self.path / ("parm_adapter" if one else "arm_adapters")
        return self._results["train"]

    def _train(self, data: Any) -> None:
        """train's work: the method's adapter(s) trained on `data`, the run's preference pairs."""
        settings = self.settings
        if settings.method == "parm":
            adapter_dir = self.path / "parm_adapter"
            self._train_adapter(
                adapter_dir, data, settings.objective_names, settings.r2, self.path, core=settings.core
            )
            return
        if settings.method == "svd_lora":  # diag(sigma_1..sigma_r1, c alpha): r1 + k directions, the PARM's r1 + r2
            k = len(settings.objectives)
            adapter_dir = self.path / "parm_adapter"
            self._train_adapter(
                adapter_dir, data, settings.objective_names, k, self.path, core=SVD_LORA_CORE,
                r1=svd_lora_rank(settings),
            )  # fmt: skip
            return
        for name in settings.objective_names:
            self._train_adapter(self.arm_dir(name), data, [name], arm_rank(settings), self.arm_dir(name))

    def arm_dir(self, objective: str) -> Path:
        return self.path / "arm_adapters" / objective

    def trainer_arguments(self, objectives: list[str]) -> PARMConfig:
        """The PARMConfig that trains one adapter on `objectives` (all of them for a PARM, one for an ARM)."""
        settings = self.settings
        beta_r = settings.beta_r if len(settings.beta_r) == 1 else [
            settings.beta_r[settings.objective_names.index(name)] for name in objectives
        ]  # fmt: skip
        return PARMConfig(
            output_dir=str(self.path / "trainer"), per_device_train_batch_size=settings.batch_size,
            gradient_accumulation_steps=settings.gradient_accumulation_steps,
            num_train_epochs=settings.epochs, learning_rate=settings.learning_rate, lr_scheduler_type="cosine",
            warmup_steps=2, weight_decay=0.05,
            beta_r=beta_r,
            length_normalized_rewards=[name for name in settings.length_normalized_rewards if name in objectives],
            reference_free=settings.reference_free,
            reference_relative_rewards=[name for name in settings.reference_relative_rewards if name in objectives],
            dirichlet_concentration=settings.dirichlet_concentration, scalarization=settings.scalarization,
            loss_type=settings.loss_type, preference_sampling=settings.preference_sampling,
            max_prompt_length=settings.max_length // 2,
            max_length=settings.max_length, logging_steps=1, save_strategy="no", report_to="none",
            activation_checkpointing=False, use_cpu=settings.device == "cpu",
            seed=settings.seed if settings.train_seed is None else settings.train_seed,
            disable_tqdm=not settings.show_progress,
        )  # fmt: skip

    def _train_adapter(
        self,
        adapter_dir: Path,
        data: Any,
        objectives: list[str],
        r2: int,
        log_dir: Path,
        core: str = ARM_CORE,
        r1: int | None = None,
    ) -> Path:
        """Train one PBLoRA adapter on `objectives`' pairs of `data` into `adapter_dir`; the training log goes to
        `log_dir`/train_log.json."""
        _, tokenizer = self.base()
        settings = self.settings
        args = self.trainer_arguments(objectives)
        peft_config = PBLoraConfig(
            r1=settings.r1 if r1 is None else r1, r2=r2, num_preferences=len(objectives), core=core,
            lora_alpha=settings.lora_alpha, lora_dropout=0.0, target_modules=settings.target_modules,
            task_type="CAUSAL_LM",
        )  # fmt: skip
        held_out = held_out_prompts(self.train_prompts, settings.held_out_pair_share, settings.seed)
        train_pairs, held_out_pairs = split_pairs(data, objectives, held_out)
        if held_out and len(held_out_pairs) < len(objectives):
            logger.warning(
                "no held-out pairs for %s: every pair trains, and no pair accuracy is measured before the sweep",
                sorted(set(objectives) - set(held_out_pairs)),
            )
            train_pairs, held_out_pairs = {name: data[name] for name in objectives}, {}
        if settings.train_in_chat_format:
            train_pairs, held_out_pairs = as_user_turns(train_pairs), as_user_turns(held_out_pairs)
        trainer = PARMTrainer(
            model=self._fresh_parm_base(),
            args=args,
            train_dataset=train_pairs,
            eval_dataset=held_out_pairs or None,
            processing_class=tokenizer,
            peft_config=peft_config,
        )
        trainable = sum(parameter.numel() for parameter in trainer.model.parameters() if parameter.requires_grad)
        trainer.train()
        evaluation = (
            trainer.evaluate() if held_out_pairs else None
        )  # before saving: a saved adapter is never retrained
        trainer.save_model(str(adapter_dir))
        if evaluation is not None:
            write_held_out_evaluation(
                adapter_dir, evaluation, {name: len(pairs) for name, pairs in held_out_pairs.items()}
            )
        write_json_atomic(log_dir / "train_log.json", trainer.state.log_history)
        write_json_atomic(adapter_dir / "trainable_parameters.json", {"trainable_parameters": trainable})
        return adapter_dir

    def trainable_parameters(self) -> int:
        """Trainable parameters of the trained adapter(s): the PARM's, or all k ARMs' together."""
        counts = [directory / "trainable_parameters.json" for directory in self.adapter_dirs()]
        return sum(json.loads(path.read_text())["trainable_parameters"] for path in counts if path.is_file())

    def sweep(self) -> dict:
        """`sweep.json`: greedy answers to the test prompts at every preference of the grid, guided by the trained
        reward model(s) (Rewarded Soups: decoded by the mixed model), and the unguided base's, each scored. A sweep
        already made from the same inputs is kept, its answers scored again by the run's scorers."""
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
        responses = self._answers(rows)
        decoding = {"seconds": time.perf_counter() - start, "new_tokens": sum(r["new_tokens"] for r in responses)}
        decoding["peak_resident_memory_gib"] = peak_resident_memory_gib()  # training and decoding, this process
        decoding["guidance_path"] = self.guidance_path
        unguided = self._generate(base, tokenizer, [(None, prompt) for prompt in self.test_prompts], None)
        result = {"objectives": objectives, "method": settings.method, "alphas": alphas, "prompts": self.test_prompts}
        result["guidance_beta"] = None if settings.method == "rewarded_soups" else settings.guidance_beta
        result["objective_strengths"] = self.objective_strengths
        result.update(points=[], decoding=decoding)
        for alpha in alphas:
            texts = [response for (row_alpha, _), response in zip(rows, responses, strict=True) if row_alpha == alpha]
            result["points"].append({"alpha": alpha, **self._score(self.test_prompts, texts)})
        result["base"] = self._score(self.test_prompts, unguided)
        return result

    def _rescored_sweep(self, sweep: dict) -> dict:
        """A kept sweep with its answers scored by the run's scorers (a scorer may have changed since), written back
        where a score changed."""
        prompts = sweep["prompts"]
        rescored = {**sweep, "points": [self._rescored(prompts, point) for point in sweep["points"]]}
        rescored["base"] = self._rescored(prompts, sweep["base"])
        return self._written_if_changed(self.path / "sweep.json", sweep, rescored)

    def _rescored(self, prompts: Sequence[str], point: dict) -> dict:
        """One scored point (a preference's or the base's answers) scored again; a point without its texts (an older
        sweep) as it is."""
        return {**point, **self._scores(prompts, point["texts"])} if "texts" in point else point

    def _written_if_changed(self, path: Path, old: dict, new: dict) -> dict:
        new = json.loads(json.dumps(new))
        if new != old:
            logger.warning("%s: scored again by the run's scorers, which score its answers otherwise now", path.name)
            write_json_atomic(path, new)
        return new

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
        log-ratio to the starting model, the form the `not_learned` threshold was measured on (a mean reward's
        margin is per token, and a reference-free one starts from the frozen model's own preference)."""
        settings = self.settings
        summed_log_ratio = [
            name
            for name in settings.objective_names
            if name not in settings.length_normalized_rewards
            and (not settings.reference_free or name in settings.reference_relative_rewards)
        ]
        if settings.method in ONE_REWARD_MODEL_METHODS:
            logs = [self.path / "train_log.json"]
        else:
            logs = [self.arm_dir(name) / "train_log.json" for name in settings.objective_names]
        return read_training_margins(logs, summed_log_ratio)

    def _rescored_diagnosis(self, record: dict) -> dict:
        """A kept diagnosis with the probe's answers scored by the run's scorers and its flags drawn again."""
        prompts = record["probe"]["prompts"]
        points = [self._rescored(prompts, point) for point in record["probe"]["vertices"]]
        rescored = diagnosis_record(
            self.settings.objective_names, prompts, points, self._held_out_evaluation(), self._training_margins()
        )
        rescored.update({key: record[key] for key in ("objective_strengths", "strengths_tried") if key in record})
        return self._written_if_changed(self.path / "diagnosis.json", record, rescored)

    def _diagnose(self) -> dict:
        """diagnose's work: the probe's answers at the vertices, scored, and the flags; with
        weaker_objective_strengths and an objective that does not steer at full strength, the probe repeated at each
        weaker strength and the strengths that steer best chosen for the sweep (`diagnosis_with_weaker_strengths`)."""
        settings = self.settings
        objectives = settings.objective_names
        if len(self.probe_prompts) < settings.probe_prompts:
            logger.warning(
                "only %d prompts outside the train / test split for the probe (%d asked)",
                len(self.probe_prompts), settings.probe_prompts,
            )  # fmt: skip
        held_out, margins = self._held_out_evaluation(), self._training_margins()

        def probe_at(strength: float) -> list[dict]:
            return self._probe([strength] * len(objectives)) if len(self.probe_prompts) >= 2 else []

        def record_of(points: list[dict]) -> dict:
            return diagnosis_record(objectives, self.probe_prompts, points, held_out, margins)

        return diagnosis_with_weaker_strengths(objectives, settings.weaker_objective_strengths, probe_at, record_of)

    def _probe(self, objective_strengths: list[float]) -> list[dict]:
        """The probe prompts' guided answers at every vertex (objective order), scored."""
        k = len(self.settings.objective_names)
        vertices = [[1.0 if index == vertex else 0.0 for index in range(k)] for vertex in range(k)]
        rows = [(vertex, prompt) for vertex in vertices for prompt in self.probe_prompts]
        responses = self._answers(rows, objective_strengths)
        size = len(self.probe_prompts)
        return [
            {"alpha": vertex, **self._score(self.probe_prompts, responses[index * size : (index + 1) * size])}
            for index, vertex in enumerate(vertices)
        ]

    @property
    def objective_strengths(self) -> list[float] | None:
        """The PARM's per-objective strengths in the sweep: with weaker_objective_strengths those the diagnosis chose
        (all 1 while there is no diagnosis yet), else None (the adapter as trained)."""
        settings = self.settings
        if not settings.weaker_objective_strengths:
            return None
        record = self._results.get("diagnose")
        path = self.path / "diagnosis.json"
        if record is None and path.is_file():
            record = json.loads(path.read_text())
        chosen = (record or {}).get("objective_strengths", {})
        return [float(chosen.get(name, 1.0)) for name in settings.objective_names]

    def _answers(self, rows: Sequence[tuple], objective_strengths: list[float] | None = None) -> list[dict]:
        """Greedy answers for (alpha, prompt) rows by the run's method: guided by the PARM (each objective's part
        scaled by `objective_strengths`, default: the sweep's) or the ARMs, or decoded by the ARMs' weights mixed at
        each alpha (Rewarded Soups)."""
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
                return self._generate(parm, tokenizer, rows, None, guided_model_for=lambda alphas: PARMGuidedModel(
                    parm, alphas, beta=settings.guidance_beta, reference=reference,
                    plausibility=settings.guidance_plausibility,
                ))  # fmt: skip
            return self._generate(base, tokenizer, rows, lambda alphas, mask: PARMGuidance(
                parm, alphas, beta=settings.guidance_beta, attention_mask=mask, tokenizer=tokenizer,
                reference=reference, plausibility=settings.guidance_plausibility,
            ))  # fmt: skip
        if settings.method == "genarm":
            arms = [self._merged_arm(name) for name in objectives]
            return self._generate(base, tokenizer, rows, lambda alphas, mask: GenARMGuidance(
                arms, alphas, beta=settings.guidance_beta, attention_mask=mask, tokenizer=tokenizer,
                reference=reference, plausibility=settings.guidance_plausibility,
            ))  # fmt: skip
        arm_weights = [self._merged_arm(name).state_dict() for name in objectives]  # rewarded_soups
        answers: dict[int, dict] = {}
        for alpha in dict.fromkeys(tuple(alpha) for alpha, _ in rows):
            indices = [index for index, (row_alpha, _) in enumerate(rows) if tuple(row_alpha) == alpha]
            soup = weight_soup(base, arm_weights, list(alpha))
            decoded = self._generate(soup, tokenizer, [rows[index] for index in indices], None)
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
        guided_model_for: Callable | None = None,
    ) -> list[dict]:
        """Greedy answers for (alpha, prompt) rows in batches; `processor(alphas, attention_mask)` makes the batch's
        logits processor (one batch may hold many preferences: per-row alpha), None decodes unguided;
        `guided_model_for(alphas)`, instead, makes the batch's fused guided model."""
        settings = self.settings
        outputs = []
        with left_padding(tokenizer):
            for start in tqdm(
                range(0, len(rows), settings.sweep_batch_size), desc="sweep", disable=not settings.show_progress
            ):
                batch = rows[start : start + settings.sweep_batch_size]
                encoded = tokenizer(
                    chat_texts(tokenizer, [prompt for _, prompt in batch]),
                    return_tensors="pt",
                    padding=True,
                    add_special_tokens=False,
                ).to(settings.device)
                processors = None
                if processor is not None:
                    processors = [processor([alpha for alpha, _ in batch], encoded["attention_mask"])]
                decoder = model if guided_model_for is None else guided_model_for([alpha for alpha, _ in batch])
                with torch.no_grad():
                    generated = decoder.generate(
                        **encoded, logits_processor=processors, do_sample=False, use_cache=True,
                        max_new_tokens=settings.sweep_tokens, pad_token_id=tokenizer.pad_token_id,
                    )  # fmt: skip
                new_tokens = generated[:, encoded["input_ids"].shape[1] :]
                for tokens in new_tokens:
                    ends = (tokens == tokenizer.eos_token_id).nonzero()
                    finished = len(ends) > 0
                    text = tokenizer.decode(tokens, skip_special_tokens=True).strip()
                    count = int(ends[0, 0]) + 1 if finished else len(tokens)
                    outputs.append({"text": text, "finished": finished, "new_tokens": count})
        return outputs

    def _scores(self, prompts: Sequence[str], texts: Sequence[str]) -> dict:
        """Each objective's mean score, its standard error and the per-prompt scores of `texts` (one per prompt)."""
        per_prompt = {scorer.name: [float(value) for value in scorer(prompts, texts)] for scorer in self.scorers}
        return {
            "scores": {name: float(np.mean(values)) for name, values in per_prompt.items()},
            "standard_errors": {name: standard_error(values) for name, values in per_prompt.items()},
            "per_prompt": per_prompt,
        }

    def _score(self, prompts: Sequence[str], responses: Sequence[dict]) -> dict:
        texts = [response["text"] for response in responses]
        return {
            **self._scores(prompts, texts),
            "quality": response_quality(responses),
            "examples": texts[:3],
            "texts": texts,
        }

    def report(self) -> dict:
        """`metrics.json` from the sweep (see `peft_pblora.evaluation.summarise_sweep`) with the run's cost, then
        scores.csv, pareto.png and report.md."""
        sweep = self.sweep()
        metrics = summarise_sweep(sweep)
        metrics["method"] = sweep.get("method", "parm")
        metrics["trainable_parameters"] = self.trainable_parameters()
        metrics["guidance_beta"] = sweep.get("guidance_beta")
        metrics["objective_strengths"] = sweep.get("objective_strengths")
        if "decoding" in sweep:
            decoding = sweep["decoding"]
            metrics["decoding_tokens_per_second"] = decoding["new_tokens"] / max(decoding["seconds"], 1e-9)
            metrics["peak_resident_memory_gib"] = decoding["peak_resident_memory_gib"]
            metrics["guidance_path"] = decoding.get("guidance_path")
        diagnosis_path = self.path / "diagnosis.json"
        if diagnosis_path.is_file():
            metrics["steering_diagnosis"] = json.loads(diagnosis_path.read_text())["objectives"]
        write_json_atomic(self.path / "metrics.json", metrics)
        write_report_files(self.settings, sweep, metrics, self.path)
        return metrics


def as_user_turns(pairs: dict[str, Any]) -> dict[str, Any]:
    """Each objective's pairs with the prompt as one user message: the trainer then renders it by the chat template,
    as guided decoding does."""

    def user_turn(row: dict) -> dict:
        return {"prompt": [{"role": "user", "content": row["prompt"]}]}

    return {name: dataset.map(user_turn, remove_columns="prompt") for name, dataset in pairs.items()}


def peak_resident_memory_gib() -> float:
    """The process's peak resident memory so far (Linux / macOS; NaN where unknown)."""
    try:
        import resource
    except ImportError:
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20  # bytes on macOS, KiB on Linux


def run_all(settings: RunSettings) -> dict:
    """All stages in order, each skipped when its artefacts exist; prints each stage's time."""
    run = Run(settings)
    run.timed("make-data", run.make_data)
    run.timed("train", run.train)
    run.timed("diagnose", run.diagnose)
    run.timed("sweep", run.sweep)
    return run.timed("report", run.report)
