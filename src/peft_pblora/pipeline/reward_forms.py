"""Each objective's reward form in training, chosen by one rule from its preference pairs.

An objective whose pairs follow length (`data.length_following`) is rewarded by the mean log-probability per answer
token, the others by the summed log-probability; each form has its own reward scale beta_r. The rule reads only the
pairs, so a user's own objective and the built-in ones get their form the same way; `--length_normalized_rewards`
and `--beta_r` override it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..data.length_following import LENGTH_FOLLOWING_SIGN, follows_length, length_signs

if TYPE_CHECKING:
    from .settings import RunSettings

logger = logging.getLogger("peft_pblora.pipeline")

BETA_R_SUM = 0.1  # for a summed reward: margins of tens of nats
BETA_R_MEAN = 4.0  # for a length-normalised reward: margins of a fraction of a nat per token


def default_beta_r(objectives: Sequence[str], length_normalized: Sequence[str]) -> list[float]:
    """beta_r per objective: BETA_R_MEAN for a length-normalised reward, BETA_R_SUM for a summed one."""
    return [BETA_R_MEAN if name in length_normalized else BETA_R_SUM for name in objectives]


@dataclass(frozen=True)
class RewardForms:
    """The reward forms one run trains with: the length-normalised objectives, beta_r (one value, or one per
    objective in the run's order), each objective's length sign, and whether the pairs chose the forms."""

    length_normalized_rewards: list[str]
    beta_r: list[float]
    length_signs: dict[str, float]
    chosen_from_pairs: bool

    def record(self) -> dict[str, Any]:
        """As stored in metrics.json (`reward_forms`): per objective its form, beta_r and length sign."""
        objectives = list(self.length_signs)
        scales = self.beta_r * len(objectives) if len(self.beta_r) == 1 else self.beta_r
        return {
            "chosen_from_pairs": self.chosen_from_pairs,
            "length_following_sign": LENGTH_FOLLOWING_SIGN,
            "objectives": {
                name: {
                    "reward": "mean" if name in self.length_normalized_rewards else "summed",
                    "beta_r": scale,
                    "length_sign": self.length_signs[name],
                }
                for name, scale in zip(objectives, scales, strict=True)
            },
        }


def choose_reward_forms(
    objectives: Sequence[str],
    length_normalized_rewards: Sequence[str] | None,
    beta_r: Sequence[float] | None,
    pairs: Mapping[str, Any],
    sentence_edits_added: bool = False,
) -> RewardForms:
    """The forms the settings give, with what they leave open (None) chosen from `pairs` (objective -> its pairs).

    Args:
        objectives (Sequence[str]): the objectives, in the order beta_r follows.
        length_normalized_rewards (Sequence[str] | None): the objectives given the mean reward; None: those whose
            pairs follow length (`follows_length`).
        beta_r (Sequence[float] | None): one reward scale, or one per objective; None: BETA_R_MEAN for a mean
            reward, BETA_R_SUM for a summed one.
        pairs (Mapping): each objective's preference pairs, with `chosen` and `rejected` columns.
        sentence_edits_added (bool): whether sentence-edit pairs were added to them, which the length signs leave
            out.

    Example:
        >>> pairs = {
        ...     "brevity": {"chosen": ["Yes.", "No."], "rejected": ["Yes, it is.", "No, it is not."]},
        ...     "tone": {"chosen": ["Gladly, yes.", "No."], "rejected": ["Yes.", "Sadly, no."]},
        ... }
        >>> forms = choose_reward_forms(["brevity", "tone"], None, None, pairs)
        >>> forms.length_normalized_rewards, forms.beta_r
        (['brevity'], [4.0, 0.1])
    """
    signs = length_signs({name: pairs[name] for name in objectives}, sentence_edits_added)
    chosen_from_pairs = length_normalized_rewards is None
    if chosen_from_pairs:
        length_normalized = [name for name in objectives if follows_length(signs[name])]
    else:
        length_normalized = list(length_normalized_rewards)
    scales = list(beta_r) if beta_r is not None else default_beta_r(objectives, length_normalized)
    return RewardForms(length_normalized, scales, signs, chosen_from_pairs)


def reward_forms_of(settings: RunSettings, pairs: Mapping[str, Any]) -> RewardForms:
    """The run's reward forms (`choose_reward_forms`); warns where a reference-free summed reward meets pairs that
    follow length, which only a setting given by hand can make."""
    names = settings.objective_names
    forms = choose_reward_forms(
        names, settings.length_normalized_rewards, settings.beta_r, pairs, settings.sentence_edit_pairs
    )
    for name in names:
        sign = forms.length_signs[name]
        summed = name not in forms.length_normalized_rewards
        if summed and not settings.reference_relative(name) and follows_length(sign):
            logger.warning(
                "%s's pairs follow length (length sign %+.2f) but its reward is the summed log-probability "
                "(--length_normalized_rewards): its margin measures the answers' lengths before what %s prefers; "
                "leave --length_normalized_rewards unset, or reward it relative to the starting model "
                "(--reference_relative_rewards)",
                name, sign, name,
            )  # fmt: skip
    return forms


def with_reward_forms(values: Mapping[str, Any], objectives: Sequence[str], pairs: Mapping[str, Any] | None) -> dict:
    """A run's settings as a dict (`asdict(settings)` or a settings.json) with the reward forms they leave open
    settled from `pairs`, as training uses them; as they are where nothing is open or the pairs are not these
    objectives'. Training's fingerprint records the forms so, and a folder made while its settings named the forms
    stays current where the rule gives the same."""
    if values.get("length_normalized_rewards") is not None and values.get("beta_r") is not None:
        return dict(values)
    if pairs is None or sorted(pairs) != sorted(objectives):
        return dict(values)
    forms = choose_reward_forms(
        objectives, values.get("length_normalized_rewards"), values.get("beta_r"), pairs,
        bool(values.get("sentence_edit_pairs")),
    )  # fmt: skip
    return {**values, "length_normalized_rewards": forms.length_normalized_rewards, "beta_r": forms.beta_r}
