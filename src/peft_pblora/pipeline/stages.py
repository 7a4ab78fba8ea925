"""The end-to-end run: make preference data, train a PARM, sweep alpha with guided decoding, report the trade-off.

Each stage writes its artefacts into one folder and is skipped when they are already there, so a re-run resumes.
"""

from __future__ import annotations

import csv
import json
import logging
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from peft import PeftModel
from scipy.stats import spearmanr
from tqdm.auto import tqdm

from ..data.chat import chat_texts, left_padding
from ..data.preference_pairs import build_preference_data, candidates_dir, needs_sampling
from ..evaluation.metrics import (
    hypervolume,
    linearly_supported,
    mean_inner_product,
    non_dominated,
    normalise,
    pareto_plot,
    preference_grid,
    spearman_over_resampled_prompts,
)
from ..evaluation.scorers import Conciseness, PromptRelevance, Scorer, Thoroughness, VaderPositivity
from ..guidance.processors import GenARMGuidance, PARMGuidance
from ..trainer.loss import SCALARIZATIONS
from ..trainer.parm_config import PARMConfig, objectives_named
from ..trainer.parm_trainer import PARMTrainer
from ..tuners.pblora.config import PBLoraConfig
from .model_loading import first_layers, load_model_and_tokenizer

logger = logging.getLogger("peft_pblora.pipeline")

BETA_R_SUM = 0.1  # for a summed reward: margins of tens of nats
BETA_R_MEAN = 4.0  # for a length-normalised reward: margins of a fraction of a nat per token

METHODS = ("parm", "svd_lora", "genarm", "rewarded_soups")
ONE_REWARD_MODEL_METHODS = (
    "parm",
    "svd_lora",
)  # one preference-conditioned adapter; the others train one per objective
METHOD_LABELS = {
    "parm": "PARM guided",
    "svd_lora": "SVD-LoRA (Panacea) guided",
    "genarm": "GenARM guided",
    "rewarded_soups": "Rewarded Soups",
}

SCORERS: dict[str, Callable[[], Scorer]] = {
    "positivity": VaderPositivity,
    "positivity_whole_text": lambda: VaderPositivity(per_sentence=False),
    "conciseness": Conciseness,
    "relevance": PromptRelevance,
    "thoroughness": Thoroughness,
}


def builtin_prompts() -> list[str]:
    """The project's 340 varied user requests (advice, explanations, encouragement, everyday how-tos)."""
    text = resources.files("peft_pblora").joinpath("data/prompts.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass
class RunSettings:
    """Everything a run depends on; saved as settings.json in the output folder."""

    output_dir: str = "runs/default"
    base_model: str = "smollm2"
    parm_model: str | None = None  # the PARM's own model (id or path, the base's tokenizer); None: built from the base
    parm_layers: int | None = None  # a PARM of the base's first layers; None: the whole base (see models.first_layers)
    objectives: list[str] = field(default_factory=lambda: ["positivity", "conciseness"])
    train_prompts: int = 96
    test_prompts: int = 48
    samples_per_prompt: int = 4
    sample_tokens: int = 96
    sample_batch_size: int = 16
    sentence_variants: bool = True  # add each sample's first sentence as a short, complete candidate answer
    # For the four list settings below, None takes what each objective's scorer declares and ["none"] means none.
    # system prompts under which samples_per_prompt more candidates per prompt are sampled (pairs keep the bare
    # prompt); None: the scorers' eliciting_system_prompt (positivity: a warm assistant)
    sampling_system_prompts: list[str] | None = None
    # objectives whose pairs may use those candidates; None: the objectives whose scorer elicits them (or all)
    system_prompted_objectives: list[str] | None = None
    shipped_data: bool = True  # start from the shipped candidates where they fit these settings; False: sample anew
    # objectives paired among equally long answers only; None: the sentence-averaged ones (positivity)
    length_matched: list[str] | None = None
    max_length_ratio: float = 1.5
    # objectives paired among answers that score alike (within max_score_difference) on every other objective
    score_matched: list[str] = field(default_factory=list)
    max_score_difference: float = 0.1
    pairs_per_prompt: int = 1  # up to this many pairs per prompt and objective that share no answer
    # objectives paired without first-sentence variants; None: the sentence-averaged ones (positivity)
    whole_samples_only: list[str] | None = None
    epochs: float = 3.0
    batch_size: int = 4  # prompts per micro-batch; a PARM's row holds one pair per objective, an ARM's one
    # micro-batches per optimizer step: halve batch_size and double this to lower peak memory, same gradient
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-3
    # objectives rewarded by mean (not summed) log-probs; None: those whose scorer is length_based (conciseness);
    # ["none"]: every reward summed
    length_normalized_rewards: list[str] | None = None
    # one value for all objectives or one per objective; None: 0.1 for summed rewards, 4 for length-normalised ones
    beta_r: list[float] | None = None
    reference_free: bool = True
    # objectives rewarded relative to the base; None: the length-matched ones (positivity), whose equally long pairs
    # then start at margin 0; ["none"]: none
    reference_relative_rewards: list[str] | None = None
    scalarization: str = "linear"  # or "tchebycheff": how the alpha-weighted objective losses are combined
    r1: int = 0  # no preference-agnostic part: every change the adapter makes depends on alpha
    r2: int | None = None  # None: 4 per objective (GenARM's ARMs get r2 / k = 4 each)
    # the PARM's core: one block of G per objective (PBLoraConfig.core), or PBLoRA's "bilinear" W2(alpha)
    core: str = "per_objective"
    # None: 2 r2 for the per-objective core (each objective's block scaled like GenARM's rank-4 ARMs: lora_alpha / r
    # = 2), else 8
    lora_alpha: float | None = None
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    dirichlet_concentration: float = 0.1
    # None: "importance" (each pair's alpha drawn towards its own objective, its loss importance-weighted; see
    # PARMConfig) for the linear scalarisation, "example" (one alpha per prompt) for Tchebycheff
    preference_sampling: str | None = None
    max_length: int = 256
    grid_step: float = 0.25
    guidance_beta: float = 0.125  # 1/beta = 8: the strength e15 steered tone at (docs/evaluation.md)
    sweep_tokens: int = 96
    sweep_batch_size: int = 32
    method: str = "parm"  # or a baseline: genarm (k ARMs guide together), rewarded_soups (k ARMs' weights mixed)
    seed: int = 0  # the prompt split, the sampling and (unless train_seed is given) the training
    train_seed: int | None = None  # another training seed on the same data (the shipped candidates still fit)
    device: str | None = None  # where models run: "cpu", "cuda", "cuda:1"...; None: the first GPU if any, else CPU
    show_progress: bool = True

    def __post_init__(self) -> None:
        unknown = [name for name in self.objectives if name not in SCORERS]
        if unknown:
            raise ValueError(f"unknown objective(s) {unknown}; built in: {sorted(SCORERS)}")
        if len(self.objectives) < 2:
            raise ValueError("a multi-objective run needs at least two objectives")
        scorers = {name: SCORERS[name]() for name in self.objectives}

        def declaring(attribute: str) -> list[str]:
            return [name for name, scorer in scorers.items() if getattr(scorer, attribute, None)]

        self.length_normalized_rewards = settled(self.length_normalized_rewards, declaring("length_based"))
        self.length_matched = settled(self.length_matched, declaring("sentence_averaged"))
        self.whole_samples_only = settled(self.whole_samples_only, declaring("sentence_averaged"))
        elicited = declaring("eliciting_system_prompt")
        eliciting = dict.fromkeys(scorers[name].eliciting_system_prompt for name in elicited)
        self.sampling_system_prompts = settled(self.sampling_system_prompts, list(eliciting))
        self.system_prompted_objectives = settled(self.system_prompted_objectives, elicited or list(self.objectives))
        # checked here too, so that a bad name fails before any model is loaded
        objectives_named(self.length_normalized_rewards, self.objectives, "length_normalized_rewards")
        objectives_named(self.length_matched, self.objectives, "length_matched")
        self.reference_relative_rewards = settled(self.reference_relative_rewards, self.length_matched)
        objectives_named(self.reference_relative_rewards, self.objectives, "reference_relative_rewards")
        objectives_named(self.whole_samples_only, self.objectives, "whole_samples_only")
        objectives_named(self.score_matched, self.objectives, "score_matched")
        objectives_named(self.system_prompted_objectives, self.objectives, "system_prompted_objectives")
        if self.beta_r is None:
            self.beta_r = [
                BETA_R_MEAN if name in self.length_normalized_rewards else BETA_R_SUM for name in self.objectives
            ]
        if self.scalarization not in SCALARIZATIONS:
            raise ValueError(f"unknown scalarization {self.scalarization!r}; choose one of {SCALARIZATIONS}")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {METHODS}")
        if self.parm_model and self.parm_layers:
            raise ValueError("give parm_model or parm_layers, not both")
        if self.core not in ("bilinear", "per_objective"):
            raise ValueError(
                f"core must be 'bilinear' or 'per_objective' (SVD-LoRA's is --method svd_lora), got {self.core!r}"
            )
        if self.preference_sampling is None:
            self.preference_sampling = "importance" if self.scalarization == "linear" else "example"
        if self.r2 is None:
            self.r2 = 4 * len(self.objectives)
        if self.lora_alpha is None:
            self.lora_alpha = 2.0 * self.r2 if self.core == "per_objective" and self.method == "parm" else 8.0
        if self.core == "per_objective" and self.r2 % len(self.objectives):
            raise ValueError(f"core 'per_objective' needs r2 divisible by the {len(self.objectives)} objectives")
        if self.batch_size < 1 or self.gradient_accumulation_steps < 1:
            raise ValueError(
                f"batch_size and gradient_accumulation_steps must be >= 1, got {self.batch_size} and "
                f"{self.gradient_accumulation_steps}"
            )
        if self.pairs_per_prompt < 1:
            raise ValueError(f"pairs_per_prompt must be >= 1, got {self.pairs_per_prompt}")
        if self.train_prompts < 1 or self.test_prompts < 1:
            raise ValueError("train_prompts and test_prompts must be >= 1")
        if self.device is None:
            self.device = "cuda" if torch.cuda.is_available() else "cpu"

    @property
    def path(self) -> Path:
        return Path(self.output_dir)


def settled(value: list[str] | None, default: list[str]) -> list[str]:
    """A list setting as given, `default` for None, or empty for ["none"] (the command line's way to say none)."""
    if value is None:
        return list(default)
    return [] if value == ["none"] else list(value)


def shipped_candidates_dir() -> Path:
    """The sampled, scored answers of SmolLM2-135M-Instruct for the default train prompts, shipped with the package.

    Sampling them takes about 6.5 minutes on 2 CPU cores, a third of the default run's budget; `generation.json`
    next to them records the settings that produced them and the command that regenerates them.
    """
    return Path(str(resources.files("peft_pblora").joinpath("data/smollm2_candidates")))


def shipped_candidates_fit(settings: RunSettings) -> bool:
    """Whether the shipped candidates hold what sampling with these settings would produce (any objectives: cached
    answers are scored again by the run's scorers). A run without system prompts uses their plain answers only."""
    generation_path = shipped_candidates_dir() / "generation.json"
    if not generation_path.is_file():
        return False
    generation = json.loads(generation_path.read_text())
    keys = ("base_model", "train_prompts", "samples_per_prompt", "sample_tokens", "sentence_variants", "seed")
    system_prompts_fit = settings.sampling_system_prompts in ([], generation.get("sampling_system_prompts", []))
    return system_prompts_fit and all(generation.get(key) == getattr(settings, key) for key in keys)


def split_prompts(settings: RunSettings) -> tuple[list[str], list[str]]:
    """A seeded split of the built-in prompts into train and held-out test prompts."""
    prompts = builtin_prompts()
    if settings.train_prompts + settings.test_prompts > len(prompts):
        raise ValueError(f"only {len(prompts)} prompts are shipped")
    random.Random(settings.seed).shuffle(prompts)
    return prompts[: settings.train_prompts], prompts[len(prompts) - settings.test_prompts :]


RESULT_NEUTRAL_SETTINGS = ("show_progress", "device", "sample_batch_size", "sweep_batch_size")
FOLDER_SETTINGS = ("output_dir",)  # where a run folder is: a moved or renamed folder continues as it was made


def saved_settings(output_dir: str | Path) -> dict[str, Any] | None:
    """The settings a run folder was made with (its settings.json), or None for a new folder."""
    path = Path(output_dir) / "settings.json"
    return json.loads(path.read_text()) if path.is_file() else None


def check_same_settings(settings: RunSettings) -> None:
    """Refuses to continue a run folder with other settings than it was made with: its finished stages would be
    skipped, and their artefacts mixed with the new settings' results. Progress bars, device and batch sizes may
    differ (`RESULT_NEUTRAL_SETTINGS`), and so may the folder's own path (a moved folder); a setting absent from an
    older settings.json counts as unchanged."""
    saved = saved_settings(settings.output_dir)
    if saved is None:
        return
    current = json.loads(json.dumps(asdict(settings)))
    changed = [
        f"{name}: {saved[name]!r} there, {value!r} now"
        for name, value in current.items()
        if name in saved and name not in RESULT_NEUTRAL_SETTINGS + FOLDER_SETTINGS and saved[name] != value
    ]
    if changed:
        raise ValueError(
            f"{settings.output_dir} was made with other settings ({'; '.join(changed)}). Give a new --output_dir, "
            "or leave those settings out to continue the run as it was made"
        )


class Run:
    """One run folder: its settings, its models (loaded once, when a stage needs them) and its stages."""

    def __init__(self, settings: RunSettings, base: tuple[Any, Any] | None = None) -> None:
        """`base`: an already loaded (model, tokenizer) for `settings.base_model`, e.g. shared by a grid of runs."""
        check_same_settings(settings)
        self.settings = settings
        self.path = settings.path
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "settings.json").write_text(json.dumps(asdict(settings), indent=2))
        self.scorers = [SCORERS[name]() for name in settings.objectives]
        self.train_prompts, self.test_prompts = split_prompts(settings)
        self._base = base

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
        timings_path.write_text(json.dumps(timings, indent=2))
        print(f"[{name}] {seconds:.1f} s", flush=True)
        return result

    # -- stages ------------------------------------------------------------------------------------------------------

    def make_data(self) -> Any:
        settings = self.settings
        data_dir = self.path / "preference_data"
        candidates = candidates_dir(data_dir)
        if settings.shipped_data and not candidates.exists() and shipped_candidates_fit(settings):
            shutil.copytree(shipped_candidates_dir(), candidates)
            logger.info("using the shipped sampled and scored answers (--no_shipped_data samples them again)")
        model, tokenizer = self.base() if needs_sampling(data_dir) else (None, None)
        return build_preference_data(
            model, tokenizer, self.train_prompts, self.scorers, data_dir,
            num_samples=settings.samples_per_prompt, max_new_tokens=settings.sample_tokens,
            batch_size=settings.sample_batch_size, seed=settings.seed, show_progress=settings.show_progress,
            sentence_variants=settings.sentence_variants, length_matched=settings.length_matched,
            max_length_ratio=settings.max_length_ratio, system_prompts=settings.sampling_system_prompts,
            whole_samples_only=settings.whole_samples_only,
            system_prompted_objectives=settings.system_prompted_objectives if settings.sampling_system_prompts else [],
            score_matched=settings.score_matched,
            max_score_difference=settings.max_score_difference, pairs_per_prompt=settings.pairs_per_prompt,
        )  # fmt: skip

    def _fresh_parm_base(self) -> Any:
        """A new copy of the PARM's starting model: `parm_model`, or the base, or its first `parm_layers` layers."""
        model, tokenizer = self.base()
        if self.settings.parm_model:
            parm, parm_tokenizer = load_model_and_tokenizer(self.settings.parm_model)
            if parm_tokenizer.get_vocab() != tokenizer.get_vocab():
                raise ValueError(
                    f"parm_model {self.settings.parm_model!r} has another tokenizer than the base "
                    f"{self.settings.base_model!r}: token-level guidance needs the same vocabulary"
                )
            return parm.to(self.settings.device)
        layers = self.settings.parm_layers
        if layers:
            return first_layers(model, layers).to(self.settings.device)
        copy = type(model)(model.config)
        copy.load_state_dict(model.state_dict())
        return copy.to(self.settings.device).eval()

    def train(self) -> Path:
        """PARM and SVD-LoRA: one adapter for all objectives (`parm_adapter/`). GenARM and Rewarded Soups: one
        single-objective ARM per objective (`arm_adapters/<objective>/`), of rank r2 / k so the A and B budget
        matches the PARM's."""
        settings = self.settings
        if settings.method == "parm":
            adapter_dir = self.path / "parm_adapter"
            return self._train_adapter(adapter_dir, settings.objectives, settings.r2, self.path, core=settings.core)
        if settings.method == "svd_lora":  # diag(sigma_1..sigma_r1, c alpha): r1 + k directions, the PARM's r1 + r2
            k = len(settings.objectives)
            rank = max(1, settings.r1 + settings.r2 - k)
            adapter_dir = self.path / "parm_adapter"
            return self._train_adapter(adapter_dir, settings.objectives, k, self.path, core="diagonal", r1=rank)
        rank = max(1, settings.r2 // len(settings.objectives))
        for name in settings.objectives:
            self._train_adapter(self.arm_dir(name), [name], rank, self.arm_dir(name))
        return self.path / "arm_adapters"

    def arm_dir(self, objective: str) -> Path:
        return self.path / "arm_adapters" / objective

    def trainer_arguments(self, objectives: list[str]) -> PARMConfig:
        """The PARMConfig that trains one adapter on `objectives` (all of them for a PARM, one for an ARM)."""
        settings = self.settings
        beta_r = settings.beta_r if len(settings.beta_r) == 1 else [
            settings.beta_r[settings.objectives.index(name)] for name in objectives
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
            preference_sampling=settings.preference_sampling, max_prompt_length=settings.max_length // 2,
            max_length=settings.max_length, logging_steps=5, save_strategy="no", report_to="none",
            activation_checkpointing=False, use_cpu=settings.device == "cpu",
            seed=settings.seed if settings.train_seed is None else settings.train_seed,
            disable_tqdm=not settings.show_progress,
        )  # fmt: skip

    def _train_adapter(
        self,
        adapter_dir: Path,
        objectives: list[str],
        r2: int,
        log_dir: Path,
        core: str = "bilinear",
        r1: int | None = None,
    ) -> Path:
        """Train one PBLoRA adapter on `objectives`' pairs into `adapter_dir` (skipped when it exists); the training
        log goes to `log_dir`/train_log.json."""
        if (adapter_dir / "adapter_config.json").is_file():
            return adapter_dir
        data = self.make_data()
        _, tokenizer = self.base()
        settings = self.settings
        args = self.trainer_arguments(objectives)
        peft_config = PBLoraConfig(
            r1=settings.r1 if r1 is None else r1, r2=r2, num_preferences=len(objectives), core=core,
            lora_alpha=settings.lora_alpha, lora_dropout=0.0, target_modules=settings.target_modules,
            task_type="CAUSAL_LM",
        )  # fmt: skip
        trainer = PARMTrainer(
            model=self._fresh_parm_base(),
            args=args,
            train_dataset={name: data[name] for name in objectives},
            processing_class=tokenizer,
            peft_config=peft_config,
        )
        trainable = sum(parameter.numel() for parameter in trainer.model.parameters() if parameter.requires_grad)
        trainer.train()
        trainer.save_model(str(adapter_dir))
        (log_dir / "train_log.json").write_text(json.dumps(trainer.state.log_history, indent=2))
        (adapter_dir / "trainable_parameters.json").write_text(json.dumps({"trainable_parameters": trainable}))
        return adapter_dir

    def trainable_parameters(self) -> int:
        """Trainable parameters of the trained adapter(s): the PARM's, or all k ARMs' together."""
        directories = (
            [self.path / "parm_adapter"]
            if self.settings.method in ONE_REWARD_MODEL_METHODS
            else [self.arm_dir(name) for name in self.settings.objectives]
        )
        counts = [directory / "trainable_parameters.json" for directory in directories]
        return sum(json.loads(path.read_text())["trainable_parameters"] for path in counts if path.is_file())

    def sweep(self) -> dict:
        sweep_path = self.path / "sweep.json"
        if sweep_path.is_file():
            return json.loads(sweep_path.read_text())
        self.train()
        base, tokenizer = self.base()
        settings = self.settings
        objectives = settings.objectives
        alphas = preference_grid(len(objectives), settings.grid_step)
        rows = [(alpha, prompt) for alpha in alphas for prompt in self.test_prompts]
        start = time.perf_counter()
        if settings.method in ONE_REWARD_MODEL_METHODS:
            parm = PeftModel.from_pretrained(self._fresh_parm_base(), str(self.path / "parm_adapter")).eval()
            adapter_objectives = parm.peft_config["default"].objective_names
            if adapter_objectives != objectives:
                raise ValueError(f"the adapter's objectives {adapter_objectives} differ from the run's {objectives}")
            responses = self._generate(base, tokenizer, rows, lambda alphas, mask: PARMGuidance(
                parm, alphas, beta=settings.guidance_beta, attention_mask=mask, tokenizer=tokenizer
            ))  # fmt: skip
        elif settings.method == "genarm":
            arms = [self._merged_arm(name) for name in objectives]
            responses = self._generate(base, tokenizer, rows, lambda alphas, mask: GenARMGuidance(
                arms, alphas, beta=settings.guidance_beta, attention_mask=mask, tokenizer=tokenizer
            ))  # fmt: skip
        else:  # rewarded_soups: the ARMs' weights averaged with weights alpha, decoded without guidance
            arm_weights = [self._merged_arm(name).state_dict() for name in objectives]
            responses = []
            for alpha in alphas:
                soup = weight_soup(base, arm_weights, alpha)
                responses += self._generate(soup, tokenizer, [(alpha, prompt) for prompt in self.test_prompts], None)
        decoding = {"seconds": time.perf_counter() - start, "new_tokens": sum(r["new_tokens"] for r in responses)}
        decoding["peak_resident_memory_gib"] = peak_resident_memory_gib()  # training and decoding, this process
        unguided = self._generate(base, tokenizer, [(None, prompt) for prompt in self.test_prompts], None)
        result = {"objectives": objectives, "method": settings.method, "alphas": alphas, "prompts": self.test_prompts}
        result.update(points=[], decoding=decoding)
        for alpha in alphas:
            texts = [response for (row_alpha, _), response in zip(rows, responses, strict=True) if row_alpha == alpha]
            result["points"].append({"alpha": alpha, **self._score(self.test_prompts, texts)})
        result["base"] = self._score(self.test_prompts, unguided)
        sweep_path.write_text(json.dumps(result, indent=2))
        return result

    def _merged_arm(self, objective: str) -> Any:
        """One objective's ARM as a plain model: its single-objective adapter merged at preference (1,)."""
        arm = PeftModel.from_pretrained(self._fresh_parm_base(), str(self.arm_dir(objective)))
        return arm.merge_and_unload(preference=[1.0]).eval()

    def _generate(self, model, tokenizer, rows: Sequence[tuple], processor: Callable | None) -> list[dict]:
        """Greedy answers for (alpha, prompt) rows in batches; `processor(alphas, attention_mask)` makes the batch's
        logits processor (one batch may hold many preferences: per-row alpha), None decodes unguided."""
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
                with torch.no_grad():
                    generated = model.generate(
                        **encoded, logits_processor=processors, do_sample=False,
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

    def _score(self, prompts: Sequence[str], responses: Sequence[dict]) -> dict:
        texts = [response["text"] for response in responses]
        per_prompt = {scorer.name: [float(value) for value in scorer(prompts, texts)] for scorer in self.scorers}
        return {
            "scores": {name: float(np.mean(values)) for name, values in per_prompt.items()},
            "standard_errors": {name: standard_error(values) for name, values in per_prompt.items()},
            "per_prompt": per_prompt,
            "quality": response_quality(responses),
            "examples": texts[:3],
            "texts": texts,
        }

    def report(self) -> dict:
        sweep = self.sweep()
        metrics = summarise_sweep(sweep)
        metrics["method"] = sweep.get("method", "parm")
        metrics["trainable_parameters"] = self.trainable_parameters()
        if "decoding" in sweep:
            decoding = sweep["decoding"]
            metrics["decoding_tokens_per_second"] = decoding["new_tokens"] / max(decoding["seconds"], 1e-9)
            metrics["peak_resident_memory_gib"] = decoding["peak_resident_memory_gib"]
        (self.path / "metrics.json").write_text(json.dumps(metrics, indent=2))
        objectives = sweep["objectives"]
        with open(self.path / "scores.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["alpha", *objectives, "empty", "unfinished", "repetitive"])
            for point in sweep["points"]:
                quality = point["quality"]
                writer.writerow(
                    [json.dumps(point["alpha"]), *(point["scores"][name] for name in objectives)]
                    + [quality["empty"], quality["unfinished"], quality["repetitive"]]
                )
        if len(objectives) in (2, 3):
            pareto_plot(
                {
                    METHOD_LABELS[sweep.get("method", "parm")]: (
                        sweep["alphas"],
                        [[p["scores"][n] for n in objectives] for p in sweep["points"]],
                    )
                },
                self.path / "pareto.png",
                objectives,
                base_point=[sweep["base"]["scores"][name] for name in objectives],
            )
        (self.path / "report.md").write_text(markdown_report(self.settings, sweep, metrics, self.path))
        return metrics


def peak_resident_memory_gib() -> float:
    """The process's peak resident memory so far (Linux / macOS; NaN where unknown)."""
    try:
        import resource
    except ImportError:
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20  # bytes on macOS, KiB on Linux


def weight_soup(model: Any, weights: Sequence[dict], alpha: Sequence[float]) -> Any:
    """A copy of `model` whose floating-point weights are sum_i alpha_i weights_i (Rewarded Soups' interpolation)."""
    soup = type(model)(model.config)
    mixed = {}
    for key, value in weights[0].items():
        if value.is_floating_point():
            mixed[key] = sum(float(weight) * state[key] for weight, state in zip(alpha, weights, strict=True))
        else:
            mixed[key] = value
    soup.load_state_dict(mixed)
    return soup.to(next(model.parameters()).device).eval()


def response_quality(responses: Sequence[dict]) -> dict[str, float]:
    """Shares of responses that are empty, unfinished (stopped by the token limit, so cut mid-thought or mid-word)
    or repetitive (a word 3-gram repeated three times or more)."""
    total = max(1, len(responses))
    empty = sum(1 for response in responses if not response["text"])
    unfinished = sum(1 for response in responses if not response["finished"])
    repetitive = 0
    for response in responses:
        words = response["text"].split()
        trigrams = [tuple(words[index : index + 3]) for index in range(len(words) - 2)]
        if trigrams and max(trigrams.count(trigram) for trigram in set(trigrams)) >= 3:
            repetitive += 1
    return {"empty": empty / total, "unfinished": unfinished / total, "repetitive": repetitive / total}


def standard_error(values: Sequence[float]) -> float:
    """Standard error of a mean over prompts (0 for fewer than two values)."""
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def paired_difference(first: Sequence[float], second: Sequence[float]) -> dict[str, float]:
    """Mean over prompts of first - second, with its paired standard error."""
    differences = np.asarray(first, dtype=float) - np.asarray(second, dtype=float)
    return {"effect": float(differences.mean()), "standard_error": standard_error(differences)}


def steering_effects(sweep: dict) -> dict[str, dict[str, float]]:
    """Per objective: mean over prompts of score(alpha = its vertex) - score(points giving it weight 0), with its
    paired standard error, and the same against the unguided base (`gain_over_base`, when the sweep has the base's
    per-prompt scores). An effect several standard errors above 0 is steering, not prompt-sampling noise; the gain
    over the base tells a real rise at the vertex from a fall elsewhere caused by another objective."""
    objectives = sweep["objectives"]
    base_scores = sweep.get("base", {}).get("per_prompt")
    effects = {}
    for index, name in enumerate(objectives):
        vertex = [point for point in sweep["points"] if point["alpha"][index] == 1.0]
        others = [point for point in sweep["points"] if point["alpha"][index] == 0.0]
        if not vertex or not others or "per_prompt" not in vertex[0]:
            continue
        at_vertex = vertex[0]["per_prompt"][name]
        effects[name] = paired_difference(at_vertex, np.mean([point["per_prompt"][name] for point in others], axis=0))
        if base_scores:
            effects[name]["gain_over_base"] = paired_difference(at_vertex, base_scores[name])
    return effects


def summarise_sweep(sweep: dict) -> dict:
    """HV, MIP and per-objective Spearman correlations of a sweep, with the normalisation and reference point used.

    Scores are min-max normalised per objective over the sweep's points and the base point together; the reference
    point for hypervolume is -0.1 in every normalised objective (just below the worst point).
    """
    objectives = sweep["objectives"]
    alphas = np.asarray(sweep["alphas"], dtype=float)
    raw = np.asarray([[point["scores"][name] for name in objectives] for point in sweep["points"]])
    base_raw = np.asarray([[sweep["base"]["scores"][name] for name in objectives]])
    everything = np.vstack([raw, base_raw])
    low, high = everything.min(0), everything.max(0)
    points, base = normalise(raw, low, high), normalise(base_raw, low, high)
    reference = [-0.1] * len(objectives)
    spearman = {}
    for index, name in enumerate(objectives):
        constant = np.ptp(raw[:, index]) == 0 or np.ptp(alphas[:, index]) == 0
        spearman[name] = None if constant else float(spearmanr(alphas[:, index], raw[:, index]).statistic)
    return {
        "objectives": objectives,
        "normalisation": {
            "method": "min-max over sweep points and base point",
            "low": low.tolist(),
            "high": high.tolist(),
        },
        "reference_point": reference,
        "hypervolume_sweep": hypervolume(points, reference),
        "hypervolume_base": hypervolume(base, reference),
        "mip_sweep": mean_inner_product(alphas, points),
        "mip_base": mean_inner_product(alphas, np.repeat(base, len(alphas), axis=0)),
        "spearman_score_vs_weight": spearman,
        "spearman_over_resampled_prompts": {
            name: spearman_over_resampled_prompts(
                alphas[:, index], [point["per_prompt"][name] for point in sweep["points"]]
            )
            for index, name in enumerate(objectives)
            if spearman[name] is not None and "per_prompt" in sweep["points"][0]
        },
        "steering_effect": steering_effects(sweep),
        "front_alphas_no_linear_weighting_picks": front_alphas_no_linear_weighting_picks(sweep["alphas"], raw),
    }


def front_alphas_no_linear_weighting_picks(alphas: Sequence[Sequence[float]], points: np.ndarray) -> list:
    """The preferences whose sweep point is Pareto-optimal among the sweep's points but maximises no weighted sum of
    the scores: the non-convex parts of the front the sweep reached (per-objective rescaling changes neither)."""
    unsupported = non_dominated(points) & ~linearly_supported(points)
    return [list(alpha) for alpha, flag in zip(alphas, unsupported, strict=True) if flag]


def mean_with_error(point: dict, name: str) -> str:
    """'mean +/- standard error' of one objective at one sweep point (the mean alone for older sweeps)."""
    error = point.get("standard_errors", {}).get(name)
    return f"{point['scores'][name]:.3f}" + ("" if error is None else f" +/- {error:.3f}")


def options_other_than_defaults(settings: RunSettings) -> list[str]:
    """The command-line options that make `settings` from the defaults for its objectives (output folder and the
    result-neutral settings left out): the run's recipe in one line. Settings whose default follows from others
    (lora_alpha from the method, core and r2; preference_sampling from the scalarisation; reference_relative_rewards
    from length_matched) are compared with the default for those."""
    deciding = ("method", "core", "r2", "scalarization", "length_matched")
    plain = asdict(RunSettings(objectives=list(settings.objectives), device=settings.device))
    derived = RunSettings(
        objectives=list(settings.objectives), device=settings.device,
        **{name: getattr(settings, name) for name in deciding},
    )  # fmt: skip
    defaults = {**asdict(derived), **{name: plain[name] for name in deciding}}
    default_objectives = next(item for item in fields(RunSettings) if item.name == "objectives").default_factory()
    defaults["objectives"] = default_objectives  # the other list defaults follow from the objectives
    options = []
    for name, value in asdict(settings).items():
        if name in FOLDER_SETTINGS + RESULT_NEUTRAL_SETTINGS or value == defaults[name]:
            continue
        if isinstance(value, bool):
            options.append(f"--{name}" if value else f"--no_{name}")
        elif isinstance(value, list):
            options.append(" ".join([f"--{name}", *(map(str, value) if value else ["none"])]))
        else:
            options.append(f"--{name} {value}")
    return options


def markdown_report(settings: RunSettings, sweep: dict, metrics: dict, path: Path) -> str:
    objectives = sweep["objectives"]
    timings_path = path / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    method = sweep.get("method", "parm")
    label = METHOD_LABELS[method]
    starting_model = (
        f"`{settings.parm_model}`"
        if settings.parm_model
        else f"its first {settings.parm_layers} layers"
        if settings.parm_layers
        else "a copy of the base"
    )
    k = len(objectives)
    reward_models = (
        f"PARM = {starting_model} + PBLoRA (r1={settings.r1}, r2={settings.r2}"
        + (", one block per objective)" if settings.core == "per_objective" else ")")
        if method == "parm"
        else f"PARM = {starting_model} + SVD-LoRA (diag of {max(1, settings.r1 + settings.r2 - k)} singular values "
        f"and c alpha)"
        if method == "svd_lora"
        else f"{len(objectives)} single-objective ARMs, each {starting_model} + PBLoRA (r1={settings.r1}, "
        f"r2={max(1, settings.r2 // len(objectives))}, k=1)"
    )
    lines = [
        f"# {label} run report",
        "",
        f"Method `{method}`; base model `{settings.base_model}`; {reward_models}; objectives {objectives}; "
        f"{settings.train_prompts} train / {settings.test_prompts} held-out test prompts; guidance 1/beta = "
        f"{1 / settings.guidance_beta:g}; greedy, {settings.sweep_tokens} new tokens.",
        "",
        "Options other than the defaults: "
        + (f"`{' '.join(options_other_than_defaults(settings))}`" if options_other_than_defaults(settings) else "none")
        + ".",
        "",
        "| alpha | " + " | ".join(objectives) + " | empty | unfinished | repetitive |",
        "|---|" + "---|" * (len(objectives) + 3),
    ]
    for point in sweep["points"]:
        quality = point["quality"]
        lines.append(
            f"| {point['alpha']} | "
            + " | ".join(mean_with_error(point, name) for name in objectives)
            + f" | {quality['empty']:.2f} | {quality['unfinished']:.2f} | {quality['repetitive']:.2f} |"
        )
    base, base_quality = sweep["base"], sweep["base"]["quality"]
    lines.append(
        "| base, unguided | "
        + " | ".join(mean_with_error(base, name) for name in objectives)
        + f" | {base_quality['empty']:.2f} | {base_quality['unfinished']:.2f} | {base_quality['repetitive']:.2f} |"
    )
    spearman = ", ".join(
        f"{name} {'undefined (constant)' if value is None else f'{value:.2f}'}"
        for name, value in metrics["spearman_score_vs_weight"].items()
    )
    lines += [
        "",
        f"- Spearman correlation of each objective's mean score with its weight (target >= 0.9): {spearman}",
        "- The same over test prompts resampled with replacement: "
        + (
            ", ".join(
                f"{name} reaches {value['threshold']:g} in {value['share_at_least_threshold']:.0%} of "
                f"{value['resamples']} resamples, {value['confidence_level']:.0%} interval "
                f"[{value['interval_low']:.2f}, {value['interval_high']:.2f}]"
                for name, value in metrics.get("spearman_over_resampled_prompts", {}).items()
            )
            or "not available"
        ),
        f"- Hypervolume (normalised scores, reference point {metrics['reference_point']}): {label} "
        f"{metrics['hypervolume_sweep']:.3f} vs base {metrics['hypervolume_base']:.3f}",
        f"- MIP (normalised): {label} {metrics['mip_sweep']:.3f} vs base {metrics['mip_base']:.3f}",
        "- Pareto points no linear weighting of the scores picks (a non-convex part of the front): "
        + (", ".join(f"alpha {alpha}" for alpha in metrics["front_alphas_no_linear_weighting_picks"]) or "none"),
        f"- Cost: {metrics.get('trainable_parameters', 0):,} trainable parameters; decoding "
        f"{metrics.get('decoding_tokens_per_second', float('nan')):.1f} new tokens/s over the sweep; peak resident "
        f"memory {metrics.get('peak_resident_memory_gib', float('nan')):.2f} GiB",
        "- Steering effect (score at the objective's vertex minus where its weight is 0, paired over prompts): "
        + (
            ", ".join(
                f"{name} {value['effect']:+.3f} +/- {value['standard_error']:.3f}"
                for name, value in metrics["steering_effect"].items()
            )
            or "not available"
        ),
        "- Gain over the base at the objective's vertex (paired over prompts): "
        + (
            ", ".join(
                f"{name} {value['gain_over_base']['effect']:+.3f} +/- {value['gain_over_base']['standard_error']:.3f}"
                for name, value in metrics["steering_effect"].items()
                if "gain_over_base" in value
            )
            or "not available"
        ),
        f"- Normalisation: {metrics['normalisation']['method']}",
        f"- Stage times (s): {timings}",
        "",
        "![Pareto plot](pareto.png)",
        "",
    ]
    return "\n".join(lines)


def run_all(settings: RunSettings) -> dict:
    """All stages in order, each skipped when its artefacts exist; prints each stage's time."""
    run = Run(settings)
    run.timed("make-data", run.make_data)
    run.timed("train", run.train)
    run.timed("sweep", run.sweep)
    return run.timed("report", run.report)
