"""The steering benchmark: does alpha steer on objectives nobody tuned the recipe for?

    python scripts/steering_benchmark.py --preset cpu --output_dir runs/steering-benchmark
    python scripts/steering_benchmark.py --preset cpu --recipe log-ratio --output_dir runs/steering-log-ratio
    python scripts/steering_benchmark.py --preset gpu --seeds 0 1 2 --recipe '{"guidance_beta": 0.25}'
    python scripts/steering_benchmark.py --preset cpu --recipe log-ratio-adaptive --test_prompts 24
    python scripts/steering_benchmark.py --preset cpu --recipe log-ratio-forms-from-pairs --test_prompts 24 \
        --seeds 0 1 2 --pairs conciseness:list_format conciseness:relevance
    python scripts/steering_benchmark.py --output_dir research/runs/lr3 --table_only   # the table of finished runs
    python scripts/steering_benchmark.py --preset cpu --recipe log-ratio-forms-from-pairs --held_out_pairs
    PYTHONPATH=my_scorers python scripts/steering_benchmark.py --pairs positivity,my_scorers:Formality   # your own

Runs the end-to-end run on every pair of a fixed set of objective pairs drawn from six rule-based objectives of
different kinds (length: conciseness; layout: list_format; tone: positivity; content: relevance; address:
second_person; style: plain_words), for each seed, sharing one loaded base model (`scripts/run_grid.py`). Every
pair starts from the shipped candidate answers, rescored by the pair's scorers, so no sampling is needed.
`--held_out_pairs` runs the seven other pairs instead, on which no recipe was tuned. Writes
`table.md` and `table.json`: per pair and objective the Spearman correlation of its mean score with its weight
(and the share of test-prompt resamples in which it reaches 0.9: a verdict that more than one resample in five
would turn over is fragile),
its steering effect +/- standard error, whether it steers (Spearman >= 0.9 and effect above two standard errors),
its gain at its own vertex over the unguided model, the pair's guided HV and MIP against the unguided model's, and
the diagnosis's flags when the run made one.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from benchmark_tables import benchmark_table, summary_from_run_folders, write_tables
from run_grid import run_grid

from peft_pblora.pipeline.objectives import name_before_loading, parse_spec, resolve_objective
from peft_pblora.pipeline.settings import SCORERS

OBJECTIVES = ("conciseness", "list_format", "positivity", "relevance", "second_person", "plain_words")
PAIRS = (
    ("conciseness", "relevance"),
    ("conciseness", "list_format"),
    ("list_format", "second_person"),
    ("positivity", "relevance"),
    ("positivity", "plain_words"),
    ("second_person", "plain_words"),
    ("relevance", "plain_words"),
    ("list_format", "positivity"),
)


def held_out_pairs() -> list[tuple[str, str]]:
    """The pairs of the six objectives outside the fixed set `PAIRS`, on which no recipe was measured before it was
    chosen: a test of whether a recipe steers objectives it was not tuned for."""
    fixed = {frozenset(pair) for pair in PAIRS}
    return [pair for pair in itertools.combinations(OBJECTIVES, 2) if frozenset(pair) not in fixed]


# the cpu preset trains one epoch, and at least 24 steps: the 24 steps one epoch over the built-in objectives' 96 pairs
# makes, so that objectives with fewer pairs (answers that mostly score alike) are not trained less
PRESETS = {
    "cpu": {
        "epochs": 1.0,
        "min_train_steps": 24,
        "test_prompts": 12,
        "grid_step": 0.25,
        "sweep_tokens": 48,
        "show_progress": False,
    },
    "gpu": {"test_prompts": 48, "grid_step": 0.25, "sweep_batch_size": 240, "show_progress": False},
}
# named recipes for --recipe: "default" is the library's defaults; "log-ratio" rewards every objective by its summed
# log-ratio to the starting model and guides by that log-ratio at 1/beta = 4 (docs/own-objectives.md); "ipo" is
# "log-ratio" with IPO's squared loss, which holds each objective's learned margin near 1 / (2 beta_r) = 5;
# "log-ratio-adaptive" is "log-ratio" with each objective whose probe answers degenerate at its vertex weakened to
# half its strength, then a quarter, and each the probe cannot judge at full strength tried at twice it;
# "log-ratio-forms-from-pairs" is "log-ratio-adaptive" with each objective's reward
# form read from its pairs (the mean log-ratio, beta_r 4, where the pairs follow length; the summed, beta_r 0.1, else);
# "log-ratio-forms-from-pairs-non-answers" adds, per prompt and objective, a pair against the empty answer;
# "log-ratio-forms-from-pairs-train-again" trains one epoch, and again for three where one leaves an objective
# not_learned (on either preset); "log-ratio-forms-from-pairs-train-own-directions" instead trains on from the first
# training, only the not-learned objective's own directions, for the two extra epochs;
# "log-ratio-forms-from-pairs-word-choices" is "log-ratio-forms-from-pairs-train-again" with the word-choice pairs;
# "log-ratio-forms-from-pairs-unfinished-word-choices" makes those pairs unfinished (no EOS after the word)
RECIPES = {
    "default": {},
    "log-ratio": {
        "reference_free": False,
        "length_normalized_rewards": ["none"],
        "beta_r": [0.1],
        "learning_rate": 3e-3,
        "guidance_beta": 0.25,
    },
}
RECIPES["ipo"] = {**RECIPES["log-ratio"], "loss_type": "ipo"}
RECIPES["log-ratio-adaptive"] = {
    **RECIPES["log-ratio"],
    "weaker_objective_strengths": [0.5, 0.25],
    "stronger_objective_strengths": [2.0],
}
RECIPES["log-ratio-forms-from-pairs"] = {
    key: value
    for key, value in RECIPES["log-ratio-adaptive"].items()
    if key not in ("length_normalized_rewards", "beta_r")
}
RECIPES["log-ratio-forms-from-pairs-non-answers"] = {**RECIPES["log-ratio-forms-from-pairs"], "non_answer_pairs": True}
RECIPES["log-ratio-forms-from-pairs-train-again"] = {
    **RECIPES["log-ratio-forms-from-pairs"],
    "epochs": 1.0,
    "epochs_if_not_learned": 3.0,
}
RECIPES["log-ratio-forms-from-pairs-sentence-edits"] = {
    **RECIPES["log-ratio-forms-from-pairs-train-again"],
    "sentence_edit_pairs": True,
}
RECIPES["log-ratio-forms-from-pairs-word-choices"] = {
    **RECIPES["log-ratio-forms-from-pairs-train-again"],
    "word_choice_pairs": True,
}
RECIPES["log-ratio-forms-from-pairs-unfinished-word-choices"] = {
    **RECIPES["log-ratio-forms-from-pairs-word-choices"],
    "word_choice_pairs_unfinished": True,
}
RECIPES["log-ratio-forms-from-pairs-train-own-directions"] = {
    **RECIPES["log-ratio-forms-from-pairs-train-again"],
    "retrain_only_not_learned": True,
}


def recipe_settings(recipe: str) -> dict:
    """A recipe's run settings: a name of `RECIPES`, or a JSON object of settings."""
    if recipe in RECIPES:
        return dict(RECIPES[recipe])
    try:
        settings = json.loads(recipe)
    except json.JSONDecodeError:
        settings = None
    if not isinstance(settings, dict):
        raise ValueError(f"--recipe must be one of {sorted(RECIPES)} or a JSON object of run settings, got {recipe!r}")
    return settings


def common_settings(preset: str, recipe: dict, test_prompts: int | None = None) -> dict:
    """Every run's settings: the preset's, then the recipe's, then `--test_prompts` where given."""
    common = {**PRESETS[preset], **recipe}
    if test_prompts is not None:
        if test_prompts < 2:
            raise ValueError(f"--test_prompts must be at least 2 (a standard error needs two), got {test_prompts}")
        common["test_prompts"] = test_prompts
    return common


def parse_pair(text: str) -> tuple[str, str]:
    """One `--pairs` entry: `first:second` for built-in objectives, `first,second` where a spec holds a colon (a
    scorer by import path, `module:attribute`).

    Raises:
        ValueError: If the entry does not name exactly two objectives.
    """
    pair = tuple(part.strip() for part in text.split("," if "," in text else ":"))
    if len(pair) != 2 or not all(pair):
        raise ValueError(
            f"--pairs takes first:second, or first,second where an objective is module:attribute; got {text!r}"
        )
    return pair


def objective_name(spec: str) -> str:
    """The objective's name for run folders: a built-in's or renamed spec's name as given, else its scorer's `name`
    (a scorer by import path is built to read it)."""
    parsed = parse_spec(spec, SCORERS)
    return name_before_loading(parsed) or resolve_objective(spec, SCORERS).name


def benchmark_grid(pairs: list[tuple[str, str]], seeds: list[int], common: dict) -> dict:
    """The run_grid grid: one run per pair and seed, named `<first>__<second>_s<seed>` by the objectives' names."""
    runs = {
        f"{objective_name(first)}__{objective_name(second)}_s{seed}": {
            "objectives": [first, second],
            "train_seed": seed,
        }
        for (first, second), seed in itertools.product(pairs, seeds)
    }
    return {"common": common, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", type=Path, default=Path("runs/steering-benchmark"))
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu", help="run size: cpu (small) or gpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds, each on every pair")
    which_pairs = parser.add_mutually_exclusive_group()
    which_pairs.add_argument(
        "--pairs",
        nargs="+",
        default=None,
        help="pairs as first:second, or first,second where an objective is a scorer by import path "
        "(module:attribute, its folder on PYTHONPATH); default: the fixed set of eight",
    )
    which_pairs.add_argument("--all_pairs", action="store_true", help="every pair of the six objectives (15 pairs)")
    which_pairs.add_argument(
        "--held_out_pairs",
        action="store_true",
        help="the seven pairs outside the fixed set: no recipe was chosen by its result on them",
    )
    parser.add_argument(
        "--recipe",
        default="default",
        help=f"run settings that override the preset's: a named recipe ({', '.join(RECIPES)}) or a JSON object",
    )
    parser.add_argument(
        "--test_prompts",
        type=int,
        default=None,
        help="held-out prompts per sweep, instead of the preset's (cpu 12, gpu 48): more resolve weaker objectives",
    )
    parser.add_argument("--time_budget", type=float, default=float("inf"), help="start no run after this many seconds")
    parser.add_argument(
        "--table_only",
        action="store_true",
        help="run nothing: rebuild the table of the finished runs under --output_dir, diagnoses drawn again",
    )
    args = parser.parse_args()
    if args.table_only:
        print(write_tables(benchmark_table(summary_from_run_folders(args.output_dir)), args.output_dir))
        return
    if args.pairs:
        try:
            pairs = [parse_pair(pair) for pair in args.pairs]
        except ValueError as error:
            parser.error(str(error))
    elif args.held_out_pairs:
        pairs = held_out_pairs()
    else:
        pairs = list(itertools.combinations(OBJECTIVES, 2)) if args.all_pairs else list(PAIRS)
    try:
        common = common_settings(args.preset, recipe_settings(args.recipe), args.test_prompts)
    except ValueError as error:
        parser.error(str(error))
    try:
        grid = benchmark_grid(pairs, args.seeds, common)
    except ValueError as error:  # an objective spec that fits no kind, or a scorer that cannot be imported
        parser.error(str(error))
    summary = run_grid(grid, args.output_dir, args.time_budget)
    print(write_tables(benchmark_table(summary), args.output_dir))


if __name__ == "__main__":
    main()
