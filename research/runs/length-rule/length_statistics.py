"""How far each built-in objective's score follows the answer's length, from the shipped SmolLM2 candidates alone
(no model): the mean within-prompt Spearman correlation of score with word count, the length sign of its
best-against-worst pairs (share of pairs whose chosen answer is longer minus share shorter) and the reward form the
run's rule gives such pairs.

    python research/runs/length-rule/length_statistics.py
"""

from importlib.resources import files

import numpy as np
from datasets import load_from_disk
from scipy.stats import spearmanr

from peft_pblora.data.candidates import score_responses
from peft_pblora.data.length_following import follows_length, length_sign
from peft_pblora.data.pairing import PairingOptions, best_and_worst_pairs, word_count
from peft_pblora.pipeline.objectives import resolve_objectives
from peft_pblora.pipeline.settings import SCORERS

OBJECTIVES = ["positivity", "conciseness", "thoroughness", "relevance", "list_format", "second_person", "plain_words"]


def main() -> None:
    candidates = load_from_disk(str(files("peft_pblora.data") / "smollm2_candidates"))
    prompts, responses = list(candidates["prompt"]), [list(row) for row in candidates["responses"]]
    scorers = resolve_objectives(OBJECTIVES, SCORERS, "cpu")
    scores = score_responses(prompts, responses, scorers)
    lengths = [[word_count(text) for text in texts] for texts in responses]
    print("| objective | within-prompt Spearman(score, words) | pairs | length sign | the run's reward |")
    print("|---|---|---|---|---|")
    for scorer in scorers:
        correlations = [
            spearmanr(words, values).statistic
            for words, values in zip(lengths, scores[scorer.name], strict=True)
            if len(set(words)) > 1 and len(set(values)) > 1
        ]
        pairs = best_and_worst_pairs(prompts, responses, {scorer.name: scores[scorer.name]}, pairing=PairingOptions())
        pairs = pairs[scorer.name]
        sign = length_sign(pairs["chosen"], pairs["rejected"])
        reward = "mean" if follows_length(sign) else "summed"
        print(f"| {scorer.name} | {np.mean(correlations):+.2f} | {len(pairs)} | {sign:+.2f} | {reward} |")


if __name__ == "__main__":
    main()
