"""The callback that keeps a PARM's entries outside the trained objectives' own directions exactly as they started
(`PARMConfig.train_only_objectives`)."""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from ..tuners.pblora.own_directions import OwnDirectionsOnly


class RestoreFrozenDirections(TrainerCallback):
    """After each optimiser step, puts back the entries `own_directions` keeps frozen: their gradients are zero, but
    decoupled weight decay would still shrink them."""

    def __init__(self, own_directions: OwnDirectionsOnly) -> None:
        self.own_directions = own_directions

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.own_directions.restore()
