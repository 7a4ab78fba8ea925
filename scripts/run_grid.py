"""Run a grid of end-to-end PARM runs that share one loaded base model, and summarise each one's steering.

    python scripts/run_grid.py scripts/grids/positivity.json --output_dir runs/grid --time_budget 600

The grid file holds `common` settings and named `runs`, each a dict of RunSettings overrides; a run may also say
`"adapter_from": "<earlier run>"` to reuse that run's trained adapters (e.g. to sweep another guidance beta without
training again, or Rewarded Soups on GenARM's ARMs; a run whose pairs or training settings differ trains anew).
`--runs a,b` runs only those (one shard of a grid run by several processes on one GPU). Runs that would sample the
same candidates share them. After each run, one line and `summary.json` give its Spearman correlations, steering
effects, HV, MIP and stage times; `--archive` also packs every run's report, metrics, sweep and training log into
one .tar.gz (the form a remote GPU job brings back).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tarfile
import time
from dataclasses import asdict
from pathlib import Path

from peft_pblora.data.candidates import candidates_dir
from peft_pblora.pipeline import Run, RunSettings
from peft_pblora.pipeline.fingerprints import SAMPLING_SETTINGS
from peft_pblora.pipeline.stages import run_stages

RESULT_FILES = (
    "settings.json",
    "report.md",
    "metrics.json",
    "scores.csv",
    "sweep.json",
    "train_log.json",
    "timings.json",
    "diagnosis.json",
    "retraining.json",
)


def summary_line(name: str, metrics: dict, timings: dict) -> str:
    spearman = {
        key: None if value is None else round(value, 2) for key, value in metrics["spearman_score_vs_weight"].items()
    }
    effects = {
        key: f"{value['effect']:+.3f}+/-{value['standard_error']:.3f}"
        for key, value in metrics["steering_effect"].items()
    }
    gains = {
        key: f"{value['gain_over_base']['effect']:+.3f}+/-{value['gain_over_base']['standard_error']:.3f}"
        for key, value in metrics["steering_effect"].items()
        if "gain_over_base" in value
    }
    return (
        f"{name}: spearman {spearman} effects {effects} gains over base {gains} HV {metrics['hypervolume_sweep']:.3f}/"
        f"{metrics['hypervolume_base']:.3f} MIP {metrics['mip_sweep']:.3f}/{metrics['mip_base']:.3f} times {timings}"
    )


def archive(root: Path, names: list[str], destination: Path) -> None:
    """Pack the runs' result files; written in `root` first, so a job killed mid-way leaves the last whole archive."""
    partial = root / (destination.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        tar.add(root / "summary.json", arcname="summary.json")
        for name in names:
            for file_name in RESULT_FILES:
                path = root / name / file_name
                if path.is_file():
                    tar.add(path, arcname=f"{name}/{file_name}")
    shutil.move(partial, destination)


def reuse_adapters(source: Path, destination: Path) -> None:
    """Copies a run's trained adapters, their fingerprint and any retraining record into another run folder: its
    train stage keeps them where they were trained from the same pairs and training settings, and trains anew
    otherwise."""
    for name in ("parm_adapter", "arm_adapters", "fingerprints/train.json", "retraining.json"):
        if (source / name).exists() and not (destination / name).exists():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            copy = shutil.copytree if (source / name).is_dir() else shutil.copy2
            copy(source / name, destination / name)


def run_grid(
    grid: dict, output_dir: Path, time_budget: float = float("inf"), archive_path: Path | None = None
) -> dict:
    """Run every run of `grid` in order (one base model load), returning {run name: settings, metrics, timings}."""
    start = time.perf_counter()
    shared_base = None
    candidates_by_sampling: dict[tuple, Path] = {}
    summary: dict[str, dict] = {}
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, overrides in grid["runs"].items():
        if time.perf_counter() - start > time_budget:
            print(f"{name}: skipped, time budget of {time_budget:.0f} s spent", flush=True)
            continue
        overrides = dict(overrides)
        adapter_from = overrides.pop("adapter_from", None)
        settings = RunSettings(**{**grid.get("common", {}), **overrides, "output_dir": str(output_dir / name)})
        run = Run(settings, base=shared_base)
        sampling_key = tuple(json.dumps(getattr(settings, key)) for key in SAMPLING_SETTINGS)
        candidates = candidates_dir(settings.path / "preference_data")
        if sampling_key in candidates_by_sampling and not candidates.exists():
            shutil.copytree(candidates_by_sampling[sampling_key], candidates)
        if adapter_from:
            reuse_adapters(output_dir / adapter_from, settings.path)
        metrics = run_stages(run)
        shared_base = run.loaded_base or shared_base
        if candidates.exists():  # the latest: the answers it was given, and any extras it sampled
            candidates_by_sampling[sampling_key] = candidates
        timings = json.loads((settings.path / "timings.json").read_text())
        summary[name] = {"settings": asdict(settings), "metrics": metrics, "timings": timings}
        (output_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        print(summary_line(name, metrics, timings), flush=True)
        if archive_path:
            archive(output_dir, list(summary), archive_path)
    return summary


def select_runs(grid: dict, names: list[str]) -> dict:
    """The grid with only the named runs, in the order named; unknown names are refused before any run starts."""
    unknown = [name for name in names if name not in grid["runs"]]
    if unknown:
        raise ValueError(f"the grid has no runs named {unknown}; it has {list(grid['runs'])}")
    return {**grid, "runs": {name: grid["runs"][name] for name in names}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", type=Path)
    parser.add_argument("--output_dir", type=Path, default=Path("runs/grid"))
    parser.add_argument("--time_budget", type=float, default=float("inf"), help="start no run after this many seconds")
    parser.add_argument("--archive", type=Path, default=None, help="a .tar.gz to pack the results into after each run")
    parser.add_argument("--runs", default=None, help="comma-separated run names: run only these, in this order")
    args = parser.parse_args()
    grid = json.loads(args.grid.read_text())
    if args.runs:
        grid = select_runs(grid, args.runs.split(","))
    run_grid(grid, args.output_dir, args.time_budget, args.archive)


if __name__ == "__main__":
    main()
