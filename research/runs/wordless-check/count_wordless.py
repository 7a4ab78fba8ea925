"""The empty-answer check's answers counted two ways, per run folder and objective at its own vertex: the share that
ends within the check's new tokens with no word (what the check counts) and the share with no word in those tokens
whether it ends or not (wordless markup that runs on, "1. **1.1:**\n\n1.1.1", which the check cannot see). Decoded
at the strengths the run's diagnosis chose (with `--full_strength`, at full strength too); the texts are kept.

    python research/runs/wordless-check/count_wordless.py <records folder> <run folder> [<run folder> ...]
    python research/runs/wordless-check/count_wordless.py --table research/runs/wordless-check/counts > \
        research/runs/wordless-check/counts.md

`counts/` holds one record per run (named as the run): the fixed set's 24 runs as section 26 left them (the copies
with their adapters that its rediagnose.py made) and nine of the held-out pairs' 13 (section 27), decoded by the
library before the check counted runs-on (research log section 28).
"""

import argparse
import json
from pathlib import Path

from peft_pblora.evaluation.answer_quality import is_wordless
from peft_pblora.pipeline.cli import settings_of_existing_run
from peft_pblora.pipeline.model_loading import load_model_and_tokenizer
from peft_pblora.pipeline.settings import RunSettings
from peft_pblora.pipeline.stages import Run
from peft_pblora.trainer.preference_draws import simplex_vertices


def counted(run: Run, strengths: list[float]) -> list[dict]:
    """Per vertex (objective order), the check's answers at `strengths` and their two shares."""
    k = len(strengths)
    vertices = simplex_vertices(k)
    prompts = run.empty_check_prompts
    rows = [(vertex, prompt) for vertex in vertices for prompt in prompts]
    answers = run._answers(rows, strengths, max_new_tokens=run.empty_check_tokens)
    size = len(prompts)
    points = []
    for index in range(k):
        chunk = answers[index * size : (index + 1) * size]
        points.append({
            "ends_empty": sum(a["finished"] and is_wordless(a["text"]) for a in chunk) / size,
            "wordless": sum(is_wordless(a["text"]) for a in chunk) / size,
            "texts": [a["text"] for a in chunk],
        })  # fmt: skip
    return points


def measure(records: Path, folders: list[Path], full_strength: bool) -> None:
    base = None
    for source in folders:
        target = records / f"{source.name}.json"
        if target.exists():
            continue
        values = settings_of_existing_run(["--output_dir", str(source)])
        values.update(output_dir=str(source), show_progress=False)
        settings = RunSettings(**values)
        if base is None:
            model, tokenizer = load_model_and_tokenizer(settings.base_model)
            base = (model.to(settings.device), tokenizer)
        run = Run(settings, base=base)
        objectives = settings.objective_names
        chosen_by_name = json.loads((source / "diagnosis.json").read_text()).get("objective_strengths", {})
        chosen = [float(chosen_by_name.get(name, 1.0)) for name in objectives]
        record = {"run": source.name, "objectives": objectives, "chosen": chosen, "at_chosen": counted(run, chosen)}
        if full_strength and chosen != [1.0] * len(chosen):
            record["full"] = counted(run, [1.0] * len(chosen))
        target.write_text(json.dumps(record))
        print(source.name, [(p["ends_empty"], p["wordless"]) for p in record["at_chosen"]], flush=True)


def table(records: Path) -> None:
    print("| run | objective | strength chosen | ends empty | wordless | full strength: ends empty | wordless |")
    print("|---|---|---|---|---|---|---|")
    for path in sorted(records.glob("*.json")):
        record = json.loads(path.read_text())
        for index, name in enumerate(record["objectives"]):
            there = record["at_chosen"][index]
            full = record["full"][index] if "full" in record else there if record["chosen"][index] == 1.0 else None
            at_full = f"{full['ends_empty']:.2f} | {full['wordless']:.2f}" if full else "- | -"
            print(
                f"| {record['run']} | {name} | {record['chosen'][index]:g} | {there['ends_empty']:.2f} | "
                f"{there['wordless']:.2f} | {at_full} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--full_strength", action="store_true")
    parser.add_argument("records", type=Path)
    parser.add_argument("run_folders", type=Path, nargs="*")
    args = parser.parse_args()
    args.records.mkdir(parents=True, exist_ok=True)
    if args.table:
        table(args.records)
    else:
        measure(args.records, args.run_folders, args.full_strength)


if __name__ == "__main__":
    main()
