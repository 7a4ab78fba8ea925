"""A run folder made into a `DemoSession`: its settings, base model, trained PARM adapter and sweep, read only.

The folder is not written to (a `pipeline.Run` would rewrite its settings.json), so a read-only copy, such as a
Hugging Face Space's, serves as well. The PARM's starting model and the guidance reference follow the run's own
rules (`pipeline.model_loading.parm_start` and `guidance_reference`, as `pipeline.Run` uses them), except that a PARM
started from the base shares its weights (`demo_parm_start`): the demo only decodes.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from peft import PeftModel
from torch import nn

from ..evaluation import preference_grid
from ..pipeline.model_loading import guidance_reference, load_model_and_tokenizer, parm_start
from ..pipeline.run_folder import saved_settings
from ..pipeline.settings import ONE_REWARD_MODEL_METHODS, RunSettings
from .errors import RunFolderError
from .session import DemoSession

ADAPTER = "parm_adapter"


def run_settings(run_dir: str | Path, device: str | None = None) -> RunSettings:
    """The settings a run folder was made with; refuses a folder without settings.json or a trained PARM adapter."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunFolderError(f"{path} is not a folder: give the run folder of a trained PARM (--output_dir).")
    saved = saved_settings(path)
    if saved is None:
        raise RunFolderError(
            f"{path} has no settings.json, so it is not a peft-pblora run folder: make one with "
            f"`peft-pblora train --output_dir {path}`."
        )
    if saved.get("method", "parm") not in ONE_REWARD_MODEL_METHODS:
        raise RunFolderError(
            f"{path} was made with --method {saved['method']}; the demo steers one preference-aware reward model "
            f"({' or '.join(ONE_REWARD_MODEL_METHODS)})."
        )
    if not (path / ADAPTER / "adapter_config.json").is_file():
        raise RunFolderError(
            f"{path} has no trained PARM adapter ({ADAPTER}/adapter_config.json): train it first with "
            f"`peft-pblora train --output_dir {path}`."
        )
    known = {item.name for item in fields(RunSettings)}
    values = {name: value for name, value in saved.items() if name in known}
    values.update(output_dir=str(path), device=device, show_progress=False)
    return RunSettings(**values)


def sharing_copy(model: nn.Module) -> nn.Module:
    """A copy of a model's modules and config that shares its parameters and buffers: nothing is copied or
    initialised, and adapter layers injected into the copy leave the original's modules as they were."""
    tensors = itertools.chain(model.parameters(), model.buffers())
    return copy.deepcopy(model, memo={id(tensor): tensor for tensor in tensors}).eval()


def demo_parm_start(settings: RunSettings, model: nn.Module, tokenizer: Any) -> nn.Module:
    """The PARM's starting model as the run made it (`parm_start`), except that a PARM started from the base shares
    the base's weights: the demo only decodes, so the base's copy (a new model initialised at random, then loaded,
    4 s of a 36 s start-up of SmolLM2 on 2 busy cores, and 0.5 GB) is not needed."""
    if settings.parm_model or settings.parm_layers:
        return parm_start(settings, model, tokenizer)
    return sharing_copy(model)


def load_session(
    run_dir: str | Path,
    device: str | None = None,
    max_new_tokens: int | None = None,
    base: tuple[Any, Any] | None = None,
) -> DemoSession:
    """The demo of a run folder; `base` is an already loaded (model, tokenizer) for its base model, if at hand."""
    settings = run_settings(run_dir, device)
    path = settings.path
    model, tokenizer = base if base is not None else load_model_and_tokenizer(settings.base_model)
    model = model.to(settings.device).eval()
    try:
        start = demo_parm_start(settings, model, tokenizer)
    except ValueError as error:  # a parm_model whose tokenizer is not the base's
        raise RunFolderError(str(error)) from error
    parm = PeftModel.from_pretrained(start, str(path / ADAPTER)).eval()
    adapter_objectives = parm.peft_config["default"].objective_names
    if adapter_objectives and list(adapter_objectives) != settings.objective_names:
        raise RunFolderError(
            f"the adapter's objectives {adapter_objectives} differ from the run's {settings.objective_names}"
        )
    reference = guidance_reference(settings, model, tokenizer)
    sweep_path = path / "sweep.json"
    return DemoSession(
        base=model,
        tokenizer=tokenizer,
        parm=parm,
        objectives=settings.objective_names,
        guidance_beta=settings.guidance_beta,
        reference=reference,
        scorers=settings.make_scorers(),
        grid=preference_grid(len(settings.objective_names), settings.grid_step),
        max_new_tokens=max_new_tokens or settings.sweep_tokens,
        sweep=json.loads(sweep_path.read_text()) if sweep_path.is_file() else None,
        title=f"PARM steering demo: {path.name}",
        details={"run folder": str(path), "base model": settings.base_model, "method": settings.method},
    )
