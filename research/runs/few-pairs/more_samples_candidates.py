"""The candidates of research log section 44: the shipped SmolLM2 answers (plain ones only, four samples per prompt
and their first sentences), then the sixteen answers per prompt of section 43's sampling marked as extras, each
distinct answer once. The extras carry the label EXTRA_LABEL in `sampled_under`, so a run with
`sampling_system_prompts: [EXTRA_LABEL]` and `system_prompted_objectives: ["parentheses"]` pairs them for
parentheses only, as `--more_samples_if_few_pairs 16` does (which samples them itself, at the next seed).
With `--as_more_samples` they are marked as that option marks the extras it samples (research log section 45), so a
run with the option on pairs them for every objective with few pairs and samples nothing.

    python research/runs/few-pairs/more_samples_candidates.py [--as_more_samples] SIXTEEN_SAMPLE_CANDIDATES OUT_DIR ...

SIXTEEN_SAMPLE_CANDIDATES is a `preference_data/candidates` folder of a section 43 run (`--samples_per_prompt 16`).
"""

from __future__ import annotations

import argparse

from datasets import Dataset, load_from_disk

from peft_pblora.data.more_samples import MORE_SAMPLES_COLUMN, with_extra_answers, write_more_samples_record
from peft_pblora.pipeline.prompts import shipped_candidates_dir

EXTRA_LABEL = "more samples"
SAMPLES_PER_PROMPT = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sixteen_sample_candidates")
    parser.add_argument("output_dirs", nargs="+")
    parser.add_argument("--as_more_samples", action="store_true", help="mark them as --more_samples_if_few_pairs 16")
    args = parser.parse_args()
    shipped = load_from_disk(str(shipped_candidates_dir()))
    sixteen = load_from_disk(args.sixteen_sample_candidates)
    if list(shipped["prompt"]) != list(sixteen["prompt"]):
        raise ValueError("the sixteen-sample candidates are for other prompts than the shipped ones")
    plain = [
        [answer for answer, label in zip(answers, labels, strict=True) if not label]
        for answers, labels in zip(shipped["responses"], shipped["sampled_under"], strict=True)
    ]
    responses, extra = with_extra_answers(plain, [list(row) for row in sixteen["responses"]])
    if args.as_more_samples:
        columns = {"sampled_under": [[""] * len(row) for row in extra], MORE_SAMPLES_COLUMN: extra}
    else:
        columns = {"sampled_under": [[EXTRA_LABEL if is_extra else "" for is_extra in row] for row in extra]}
    rows = Dataset.from_dict({"prompt": list(shipped["prompt"]), "responses": responses, **columns})
    for output_dir in args.output_dirs:
        rows.save_to_disk(output_dir)
        if args.as_more_samples:
            write_more_samples_record(output_dir, SAMPLES_PER_PROMPT)
    print(f"{sum(map(len, responses)) / len(responses):.2f} candidates per prompt")


if __name__ == "__main__":
    main()
