"""The `peft-pblora` command: the end-to-end PARM run, whole or stage by stage.

peft-pblora run                        # make-data, train, sweep, report into runs/default
peft-pblora sweep --output_dir runs/x  # one stage (the stages it needs run first unless already done)
peft-pblora run --help                 # every setting
"""

from __future__ import annotations

import argparse
import logging
import sys

from transformers import HfArgumentParser

from .pipeline import Run, RunSettings, run_all

STAGES = {"make-data": "make_data", "train": "train", "sweep": "sweep", "report": "report"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="peft-pblora", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, add_help=False
    )
    parser.add_argument("stage", choices=["run", *STAGES], help="'run' does every stage")
    stage_arguments, rest = parser.parse_known_args(argv)
    settings_parser = HfArgumentParser(RunSettings, prog=f"peft-pblora {stage_arguments.stage}")
    (settings,) = settings_parser.parse_args_into_dataclasses(rest)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if stage_arguments.stage == "run":
        metrics = run_all(settings)
    else:
        run = Run(settings)
        result = run.timed(stage_arguments.stage, getattr(run, STAGES[stage_arguments.stage]))
        metrics = result if stage_arguments.stage == "report" else None
    if metrics:
        print(f"results in {settings.output_dir}: report.md, metrics.json, scores.csv, pareto.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
