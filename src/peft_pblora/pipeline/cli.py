"""The `peft-pblora` command: the end-to-end PARM run, whole or stage by stage.

peft-pblora run                        # make-data, train, diagnose, sweep, report into runs/default
peft-pblora sweep --output_dir runs/x  # one stage (the stages it needs run first unless already done)
peft-pblora run --help                 # every setting
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import fields
from typing import Any

from transformers import HfArgumentParser

from .run_folder import RESULT_NEUTRAL_SETTINGS, RETRAINING_SETTINGS, saved_settings
from .settings import RunSettings
from .stages import Run, run_all
from .steering_verdict_lines import verdict_lines

STAGES = {"make-data": "make_data", "train": "train", "diagnose": "diagnose", "sweep": "sweep", "report": "report"}


def settings_of_existing_run(arguments: list[str]) -> dict[str, Any]:
    """The saved settings of the run folder that `--output_dir` names, as defaults: `peft-pblora report
    --output_dir runs/x` continues runs/x as it was last run, without repeating its options (an option given
    changes that setting; the stages it concerns are redone). Strengths given one way replace the saved ones of the
    other: `--fixed_objective_strengths` drops a saved strength search, and a search given drops saved fixed
    strengths; `--epochs` given alone drops a saved `--epochs_if_not_learned` (which must stay above it) and
    `--retrain_only_not_learned`."""
    output_dir_parser = argparse.ArgumentParser(add_help=False)
    output_dir_parser.add_argument("--output_dir", default=RunSettings.output_dir)
    output_dir = output_dir_parser.parse_known_args(arguments)[0].output_dir
    saved = saved_settings(output_dir) or {}
    known = {field.name for field in fields(RunSettings)} - set(RESULT_NEUTRAL_SETTINGS)
    given = {argument.removeprefix("--").partition("=")[0] for argument in arguments if argument.startswith("--")}
    if "fixed_objective_strengths" in given:
        known -= {"weaker_objective_strengths", "stronger_objective_strengths"}
    if given & {"weaker_objective_strengths", "stronger_objective_strengths"}:
        known -= {"fixed_objective_strengths"}
    if "epochs" in given:
        known -= set(RETRAINING_SETTINGS)
    return {name: value for name, value in saved.items() if name in known}


def parse_settings(arguments: list[str], prog: str = "peft-pblora run") -> RunSettings:
    """The run's settings from its options (an existing run folder's saved settings as defaults), every one checked
    before anything is written; a setting that fails its check exits with the usage and the error, as a bad option
    does."""
    settings_parser = HfArgumentParser(RunSettings, prog=prog)
    settings_parser.set_defaults(**settings_of_existing_run(arguments))
    try:
        (settings,) = settings_parser.parse_args_into_dataclasses(arguments)
    except (ValueError, TypeError) as error:
        settings_parser.error(str(error))
    return settings


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["demo"]:  # the web demo; Gradio is imported only for it
        from ..demo.cli import main as demo_main

        return demo_main(arguments[1:])
    parser = argparse.ArgumentParser(
        prog="peft-pblora", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, add_help=False
    )
    parser.add_argument("stage", choices=["run", *STAGES], help="'run' does every stage")
    stage_arguments, rest = parser.parse_known_args(argv)
    settings = parse_settings(rest, prog=f"peft-pblora {stage_arguments.stage}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if stage_arguments.stage == "run":
        metrics = run_all(settings)
    else:
        run = Run(settings)
        result = run.timed(stage_arguments.stage, getattr(run, STAGES[stage_arguments.stage]))
        metrics = result if stage_arguments.stage == "report" else None
    if metrics:
        print(f"results in {settings.output_dir}: report.md, metrics.json, scores.csv, pareto.png")
        print(verdict_lines(metrics)[0].replace("**", ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
