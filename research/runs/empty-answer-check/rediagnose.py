"""The benchmark's runs at 48 held-out prompts (research log section 23) diagnosed again with the empty-answer check
(the library's default of 64 prompts), on copies of their folders: the probe and the check are redone at every
strength the diagnosis tries, and the sweep only where the strengths chosen change (its fingerprint holds them).

    python research/runs/empty-answer-check/rediagnose.py <copies folder> <run folder> [<run folder> ...]
    python research/runs/empty-answer-check/rediagnose.py --empty_answer_check_prompts 0 <copies folder> <run folder>

The run folders are section 23's, with their trained adapters (research/runs/benchmark-48 keeps only the records);
with `--empty_answer_check_prompts 0`, runs made with the check are diagnosed again without it (section 27). A copy
already diagnosed again is brought up to date instead: the library re-chooses its strengths from the kept probe
answers, the check's count being unchanged, and redoes the sweep where they change (section 28).
"""

import argparse
import json
import shutil
import time
from pathlib import Path

from peft_pblora.pipeline.cli import settings_of_existing_run
from peft_pblora.pipeline.model_loading import load_model_and_tokenizer
from peft_pblora.pipeline.settings import RunSettings
from peft_pblora.pipeline.stages import Run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--empty_answer_check_prompts", type=int, default=64)
    parser.add_argument("copies", type=Path)
    parser.add_argument("run_folders", type=Path, nargs="+")
    args = parser.parse_args()
    copies, base = args.copies, None
    for source in args.run_folders:
        target = copies / source.name
        done = target / "rediagnosed.json"
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("trainer"))
        before = json.loads((target / "diagnosis.json").read_text()).get("objective_strengths")
        values = settings_of_existing_run(["--output_dir", str(target)])
        values.update(
            output_dir=str(target), empty_answer_check_prompts=args.empty_answer_check_prompts, show_progress=False
        )
        settings = RunSettings(**values)
        if base is None:
            model, tokenizer = load_model_and_tokenizer(settings.base_model)
            base = (model.to(settings.device), tokenizer)
        run = Run(settings, base=base)
        start = time.time()
        after = run.timed("diagnose", run.diagnose).get("objective_strengths")
        run.timed("sweep", run.sweep)
        run.timed("report", run.report)
        record = {"strengths_before": before, "strengths_after": after, "seconds": round(time.time() - start)}
        if done.exists():  # brought up to date: the strengths before are the first pass's
            record = {**json.loads(done.read_text()), "strengths_updated": after, "update_seconds": record["seconds"]}
        done.write_text(json.dumps(record))
        print(source.name, record, flush=True)


if __name__ == "__main__":
    main()
