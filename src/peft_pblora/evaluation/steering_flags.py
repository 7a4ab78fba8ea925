"""The steering diagnosis's flags: the thresholds that raise them and what to try for each (`ADVICE`).

Kept apart from the measurements (`peft_pblora.evaluation.steering_diagnosis`), so that the run, the report and the
benchmark can name a flag's threshold without the code that measures it.
"""

from __future__ import annotations

# the share of the probe's answers where an objective's weight is 0 that already reach its highest probe score from
# which it is flagged `already_at_top`: over 1,152 kept objective-runs of the steering benchmark the sweep missed 34 of
# the 71 at or above it (48%) and 221 of the 1,081 below (20%); 4 of 15 and 80 of 742 among those with no other flag
ALREADY_AT_TOP_SHARE = 0.5

PROBE_FLAGS = (
    "steers_backwards", "does_not_steer", "degenerate_at_vertex", "wordless_at_vertex", "off_language_at_vertex"
)  # fmt: skip
DEGENERATE_FLAGS = ("degenerate_at_vertex", "wordless_at_vertex", "off_language_at_vertex")
# a mean reward margin of 1 is the PARM giving the chosen answer 73% (sigmoid(1)) where chance is 50%; on the steering
# benchmark at learning rate 1e-3 (summed log-ratio rewards, beta_r 0.1) every objective trained to less did not
# steer, while most trained to more did; at 3e-3 ten objective-runs trained to less and all ten steered. So the flag
# explains a probe that does not pass, and is not raised where the probe rises beyond two standard errors
LEARNED_MARGIN = 1.0
# the share of the probe's answers at an objective's own vertex that are empty or repetitive from which it is flagged;
# on the steering benchmark one of the fifteen objective-runs at or above it steered in the sweep (of sixty-four).
# 3 of 8 would foresee more of the vertices that loop in the sweep (8 of 38 at the strengths chosen, against 1), but
# on the five runs where it alone changed the strengths, two of ten objective-runs lost their steering on prompts the
# runs had not seen (none did at half), for 3 of 5 looping vertices gone: the report's warning after the sweep stays
DEGENERATE_SHARE = 0.5
# the new tokens the empty-answer check decodes: an answer with no word in them is empty, whether it ends there (an
# empty answer ends at the first token, a bare list marker "1." within a few) or runs on in markup ("1. **1.1.1")
EMPTY_ANSWER_CHECK_TOKENS = 8
# what the empty-answer check counts, in the diagnose stage's fingerprint: a diagnosis made when it counted only the
# answers that ended with no word is redone
EMPTY_ANSWER_CHECK_COUNTS = "answers with no word in their first tokens, ended or not"
# what the probe measures of its answers beyond their scores, in the diagnose stage's fingerprint: a diagnosis made
# before the base's likelihood of the probe's answers was measured is redone
PROBE_MEASURES = "scores, empty and repetitive shares, the base's likelihood against its own answers"
# the share of the empty-answer check's answers at an objective's own vertex with no word from which it is flagged:
# one answer in ten with nothing in it is no trade-off a user asked for, and each empty answer scores the lowest any
# built-in scorer gives
EMPTY_ANSWER_SHARE = 0.1
# nats per answer token, under the frozen base, by which the guided answers at an objective's own vertex may exceed,
# on average, the base's own answers to the same prompts before they count as off its language
# (`off_language_at_vertex`, and the report's warning after the sweep): word salad ("safety professional safety
# risks", "will will you'll will") that a word-counting scorer rewards, which the empty and repetitive shares miss.
# The base's greedy answers score about 0.7. Chosen against readers' labels, blind to every measure, of 8 answers at
# each of 94 vertices of 47 recorded steering-benchmark runs: at 2.25 the sweep's mean catches 13 of the 18 vertices
# with word salad in at least 2 of their 8 answers and none of the 61 with none (3 nats caught 5; the closest fluent
# vertex sits at 2.248, so lower lines flag fluent ones); on 12 runs held out it caught 3 of 6 (3 nats: 0), again
# flagging no fluent vertex. Mild salad (stilted "Don't you've ...") often stays under it.
OFF_LANGUAGE_NLL_GAP = 2.25
# nats per token by which one answer must exceed the base's own answers' mean to count in a vertex's share of word
# salad (`quality["off_language"]`, which the strength search adds to a flagged vertex's degenerate share): kept at
# the line that share was measured with when the vertex line was lowered; a lower line for single answers is not
# measured.
OFF_LANGUAGE_ANSWER_NLL_GAP = 3.0
# an objective with training pairs on fewer than this share of the prompts they are made from is flagged `few_pairs`
# before training: on the steering benchmark's runs at 96 prompts, the two objectives with fewer than 12 pairs
# (parentheses, 6; quotes, 11) steered in 20 of 32 objective-runs, the others in 363 of 423
FEW_PAIRS_SHARE = 1 / 8


ADVICE = {
    "few_pairs": (
        f"pairs on fewer than {FEW_PAIRS_SHARE:.1%} of the prompts: the answers sampled for most prompts score alike "
        "on this objective (a feature the model seldom writes), and the PARM learns it from a handful of pairs, each "
        "repeated many times an epoch, which its guidance tends to copy (parentheses, with 6 pairs of 96 prompts, "
        "steered in 14 of 25 runs of the steering benchmark). Give pairs on more prompts: more answers per prompt "
        "for it (--more_samples_if_few_pairs, 16 by default, samples them for such an objective only; they took "
        "parentheses to pairs on 31 prompts and from 1 of 6 steering runs to 2 of 6, quotes to 47 and its pairs "
        "from 10 of 12 steering objective-runs to 12 of 12), prompts that call for it "
        "(--prompts), or your own pairs (--preference_pairs). A system prompt that asks for the feature (the scorer's "
        "eliciting_system_prompt) took parentheses only to 13 with SmolLM2-135M."
    ),
    "not_learned": (
        f"the reward margin on its own training pairs stayed below {LEARNED_MARGIN:g} over the last third of "
        "training: the PARM barely learned this objective, and guided decoding has little to follow. Train longer "
        "(--epochs 3; or --epochs_if_not_learned 3, which trains again for that long and keeps the longer training "
        "only where its probe passes this objective: on the twelve flagged runs of the steering benchmark 22 of 24 "
        "objective-runs steered that way (18 of 20 on the ten runs the rule was read off), against 19 at one epoch "
        "and 19 always keeping three epochs; with --retrain_only_not_learned too, the longer training continues "
        "the first on this objective's own directions only and the others keep their first training: on fourteen "
        "flagged runs 27 of 28 objective-runs steered either way, the others less far in 10 of 14; "
        "--min_train_steps where the objective has few pairs, since an epoch "
        "is as long as the objective with the most), raise the learning rate (3e-3 made tone and second person "
        "steer after one epoch), or give more pairs with a larger score gap. The margin is a hint, not a verdict: "
        "pairs of whole samples that differ in little but the objective keep it small (second person steered at "
        "margins below 1 on the steering benchmark, one of them negative), so it is flagged only where the probe "
        "does not rise beyond two standard errors."
    ),
    "no_pair_signal": (
        "held-out pair accuracy at its own vertex is near chance: the PARM did not learn this objective's pairs. "
        "Check that the scorer separates the chosen from the rejected answers (more candidates per prompt, pairs "
        "with a larger score gap), or give more pairs or epochs."
    ),
    "not_separated": (
        "held-out pairs are ranked as well at the other objectives' vertices as at its own: either the objectives "
        "agree on these pairs, or the PARM learned a preference shared by all objectives rather than one conditioned "
        "on alpha. If they should conflict, try pairs where they disagree, a per-objective core, or "
        "importance-sampled preferences."
    ),
    "does_not_steer": (
        "the guided probe does not score this objective higher at its own vertex than at the others: guided "
        "decoding does not follow its weight. Try a stronger guidance (a smaller --guidance_beta), every reward "
        "relative to the starting model and guidance by that log-ratio (--no_reference_free), or more training."
    ),
    "degenerate_at_vertex": (
        f"at least {DEGENERATE_SHARE:.0%} of the guided probe's answers at this objective's own vertex are empty or "
        "repeat a phrase: guidance this strong pushes the answers off the base's text. Weaken this objective alone "
        "(--weaker_objective_strengths 0.5 0.25 lets the probe choose its strength, and half the weakest where its "
        "vertex stays degenerate at all of them), or the whole guidance (a larger --guidance_beta; `peft-pblora "
        "diagnose` redoes only the probe)."
    ),
    "wordless_at_vertex": (
        f"at least {EMPTY_ANSWER_SHARE:.0%} of the empty-answer check's answers at this objective's own vertex have "
        f"no word in their first {EMPTY_ANSWER_CHECK_TOKENS} tokens (they end at once, or run on in bare markup such "
        "as '1. **1.1.1'): guidance this strong answers some prompts with nothing, which a few probe prompts can "
        "miss and the sweep then scores as the objective falling at its top weight. Weaken this objective alone "
        "(--weaker_objective_strengths 0.5 0.25 lets the probe choose its strength, and where 0.25 is still "
        "wordless it tries 0.125: on the eight list format and emphasis runs measured there, it steered at 0.125 "
        "with under a quarter of its vertex degenerate, at about half the effect), or the whole guidance (a larger "
        "--guidance_beta)."
    ),
    "off_language_at_vertex": (
        f"the guided probe's answers at this objective's own vertex are at least {OFF_LANGUAGE_NLL_GAP:g} nats per "
        "token less likely under the frozen base than the base's own answers to the same prompts: word salad (its "
        "words strung together) that a word-counting scorer still rewards, which no user asked for. Weaken this "
        "objective alone (--weaker_objective_strengths 0.5 0.25 lets the probe choose the strongest strength whose "
        "vertex stays in the base's language, trying half the weakest where none does), or the whole guidance (a "
        "larger --guidance_beta); with word-choice "
        "pairs (--word_choice_pairs) a smaller --word_choice_pair_weight, or none."
    ),
    "probe_cannot_tell": (
        "the guided probe's answers score this objective differently at its own vertex than at the others on a few "
        "probe prompts, too few for any rise to pass two standard errors: the answers rarely show it (a feature the "
        "model seldom writes), and the probe cannot judge it either way, so it is not weakened for the other "
        "objectives' sake (--stronger_objective_strengths 2 guides it at twice its strength where its vertex does "
        "not degenerate). Give more --probe_prompts or prompts that call for it, or read the sweep's effect."
    ),
    "probe_inconclusive": (
        "the guided probe scores this objective higher at its own vertex, but by less than two standard errors: too "
        "few probe prompts to tell a small effect from noise, or guidance too weak to move it. Give more "
        "--probe_prompts, or read the sweep's effect (on the steering benchmark's ten newest pairs half of the "
        "objective-runs so flagged steered). Training it longer is no remedy where it was learned: on two such runs "
        "two more epochs of its own directions raised its training margin (12 to 29, 2 to 41) and its probe still did "
        "not pass. A stronger guidance is: with --stronger_objective_strengths 2 the search probes it at twice its "
        "strength where its training margin reached the not_learned threshold (a barely learned direction guided "
        "harder amplifies its noise; it is flagged not_learned instead) and keeps that where its probe then passes "
        "or clearly rises more (on nineteen benchmark runs re-run it changed eight, making four failed "
        "objective-runs steer and losing none); where the search kept it at its strength, "
        "--fixed_objective_strengths NAME=2 (with the others' strengths) guides it at twice anyway, which made it "
        "steer, fragile, in the one such run tried."
    ),
    "already_at_top": (
        f"at least {ALREADY_AT_TOP_SHARE:.0%} of the probe's answers where this objective's weight is 0 already reach "
        "its highest probe score: the model (or the other objectives' guidance) already writes it on most prompts, "
        "so its weight has little left to raise, and its rise with its weight is small and noisy. On the steering "
        "benchmark the sweep missed 48% of the objective-runs so flagged against 20% of the others (relevance and "
        "affirmative most often). Read the sweep's effect and gain over the unguided model rather than its Spearman, "
        "test on prompts where the model does not already write it (--prompts), or use a scorer that grades beyond "
        "this ceiling."
    ),
    "probe_scores_alike": (
        "every answer of the guided probe, at every vertex, scores the same on this objective, so the probe had "
        "nothing to read: a does_not_steer beside this flag says only that. At the scorer's lowest score, guidance "
        "did not write the feature on any probe prompt (on the steering benchmark 5 of the 19 objective-runs so "
        "probed, all digits, asides in parentheses and other rare features, steered in the sweep); at its highest, "
        "the model writes it on every probe prompt and its weight has little left to raise (already_at_top, which "
        "needs a top some answers miss, cannot be raised here). "
        "Give more --probe_prompts or prompts that call for it, and read the sweep's effect before trusting a "
        "remedy the other flags suggest."
    ),
    "steers_backwards": (
        "the guided probe scores this objective lower at its own vertex than at the others: alpha moves it against "
        "its weight. Do not trust the sweep's trade-off for it; try every reward relative to the starting model and "
        "guidance by that log-ratio (--no_reference_free), another guidance strength, or pairs that contrast this "
        "objective alone."
    ),
}
