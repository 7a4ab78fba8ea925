"""The run's objectives from their specs: a built-in scorer's name, a scorer by import path, or a reward model.

A spec is read by these rules, in order (docs/own-objectives.md):

1. `name=spec`: the objective `name` scored by `spec` (any of the kinds below). The prefix is read only where the
   part before the first `=` is a valid objective name and the whole spec is no existing folder.
2. A built-in objective's name (`SCORERS` in `peft_pblora.pipeline.settings`): that scorer.
3. An existing folder: a Hugging Face sequence-classification reward model saved there.
4. `module:attribute` without a `/`: the scorer that attribute of the imported module is (an object with a `name`
   and `__call__(prompts, responses) -> list[float]`), or a class or zero-argument callable that builds one.
5. Anything else with a `/`: a reward model by Hugging Face id (or a path that does not exist, which fails to load).

A reward model is loaded with `AutoModelForSequenceClassification` and `AutoTokenizer` (a missing pad token is set
to the EOS token, or a new `<pad>` token) and scores the first logit of `prompt + response`
(`SequenceClassifierScorer`); its objective is named after the id's or folder's last part. An objective's name is
its scorer's `name`: what metrics.json, sweep.json, the report, the adapters and the other list settings call it.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..evaluation.scorers import Scorer, SequenceClassifierScorer

logger = logging.getLogger("peft_pblora.pipeline")

BUILTIN, IMPORT_PATH, REWARD_MODEL = "built-in", "import path", "reward model"
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
IMPORT = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
SPEC_SYNTAX = (
    "an objective is a built-in name, a scorer by import path (module:attribute), or a sequence-classification "
    "reward model (a Hugging Face id such as org/model, or a local folder), optionally renamed as name=spec"
)

# reward models already loaded and still in use, by (id or folder, name, device): settings made again for the same
# run (e.g. by the report) reuse them instead of loading the model once more
_loaded_reward_models: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


@dataclass(frozen=True)
class ObjectiveSpec:
    """One `--objectives` entry, parsed: its `kind` (built-in, import path or reward model), `target` (the spec
    without a `name=` prefix) and `rename` (the name the prefix gives, or None)."""

    spec: str
    kind: str
    target: str
    rename: str | None = None


def parse_spec(spec: str, builtins: Mapping[str, Any]) -> ObjectiveSpec:
    """Reads one objective spec by the rules of this module's docstring.

    Raises:
        ValueError: If the spec is empty or fits none of the kinds (an unknown objective).
    """
    target, rename = spec.strip(), None
    if "=" in target and not Path(target).is_dir():
        prefix, _, rest = target.partition("=")
        if NAME.fullmatch(prefix) and rest:
            target, rename = rest.strip(), prefix
    if not target:
        raise ValueError(f"objective spec {spec!r} is empty; {SPEC_SYNTAX}")
    if target in builtins:
        kind = BUILTIN
    elif Path(target).is_dir():
        kind = REWARD_MODEL
    elif ":" in target and "/" not in target:
        if not IMPORT.fullmatch(target):
            raise ValueError(f"objective {spec!r} is not an import path of the form package.module:attribute")
        kind = IMPORT_PATH
    elif "/" in target:
        kind = REWARD_MODEL
    else:
        raise ValueError(
            f"unknown objective {spec!r}: not built in ({', '.join(sorted(builtins))}), not module:attribute and not "
            f"a reward model id or folder; {SPEC_SYNTAX}"
        )
    return ObjectiveSpec(spec=spec, kind=kind, target=target, rename=rename)


class UserObjective:
    """A scorer under the run's objective name, checked at every call: one score per response, each a number.

    Wraps a user's scorer (import path or reward model) or a renamed built-in; every other attribute
    (`sentence_averaged`, `eliciting_system_prompt`...) is the wrapped scorer's.
    """

    def __init__(self, scorer: Scorer, name: str, spec: str) -> None:
        self.scorer, self.name, self.spec = scorer, name, spec

    def __getattr__(self, attribute: str) -> Any:
        if attribute == "scorer":  # not set yet (e.g. while unpickling): no recursion
            raise AttributeError(attribute)
        return getattr(self.scorer, attribute)

    def __call__(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        scores = self.scorer(prompts, responses)
        try:
            scores = [float(score) for score in scores]
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"objective {self.name!r} ({self.spec}) must return one number per response, got {scores!r:.200}"
            ) from error
        if len(scores) != len(responses):
            raise ValueError(
                f"objective {self.name!r} ({self.spec}) returned {len(scores)} scores for {len(responses)} responses; "
                "a scorer returns one score per response"
            )
        return scores

    def __repr__(self) -> str:
        return f"UserObjective({self.name!r}, {self.spec!r})"


def is_scorer(value: Any) -> bool:
    """Whether `value` is a scorer object (not a class): callable, with a non-empty str `name`."""
    return (
        not inspect.isclass(value) and isinstance(value, Scorer) and isinstance(value.name, str) and bool(value.name)
    )


def import_scorer(spec: ObjectiveSpec) -> Scorer:
    """The scorer `module:attribute` names: the attribute itself, or what it builds when called without arguments."""
    module_name, _, attribute = spec.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise ValueError(
            f"objective {spec.spec!r}: cannot import module {module_name!r} ({type(error).__name__}: {error}); is it "
            "installed, or its folder on PYTHONPATH?"
        ) from error
    value: Any = module
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise ValueError(f"objective {spec.spec!r}: module {module_name!r} has no attribute {attribute!r}")
        value = getattr(value, part)
    if is_scorer(value):
        return value
    if not callable(value):
        raise ValueError(
            f"objective {spec.spec!r}: {attribute!r} is a {type(value).__name__}, not a Scorer (an object with a "
            "`name` and `__call__(prompts, responses) -> list[float]`) nor a class or function that builds one"
        )
    try:
        inspect.signature(value).bind()
    except TypeError:
        raise ValueError(
            f"objective {spec.spec!r}: {attribute!r} is neither a Scorer (it has no str `name`) nor callable without "
            "arguments; give a scorer object, or a class or zero-argument function that returns one"
        ) from None
    except ValueError:  # no signature (a builtin): try it
        pass
    try:
        built = value()
    except Exception as error:
        raise ValueError(f"objective {spec.spec!r}: {attribute}() failed ({type(error).__name__}: {error})") from error
    if not is_scorer(built):
        raise ValueError(
            f"objective {spec.spec!r}: {attribute}() returned a {type(built).__name__}, not a Scorer (an object with "
            "a str `name` and `__call__(prompts, responses) -> list[float]`)"
        )
    return built


def load_reward_model(spec: ObjectiveSpec, name: str, device: str | None) -> SequenceClassifierScorer:
    """A sequence-classification reward model by id or folder as a scorer, its tokenizer given a pad token."""
    key = (spec.target, name, device)
    if key in _loaded_reward_models:
        return _loaded_reward_models[key]
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.target)
        model = AutoModelForSequenceClassification.from_pretrained(spec.target)
    except Exception as error:
        raise ValueError(
            f"objective {spec.spec!r}: cannot load a sequence-classification reward model from {spec.target!r} "
            f"({type(error).__name__}: {error})"
        ) from error
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        else:
            tokenizer.add_special_tokens({"pad_token": "<pad>"})
            model.resize_token_embeddings(len(tokenizer))
    if model.config.pad_token_id is None:  # where the model finds each text's last token
        model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model.config, "num_labels", 1) != 1:
        logger.warning(
            "reward model %s has %d outputs; the objective is its first", spec.target, model.config.num_labels
        )
    scorer = SequenceClassifierScorer(model.to(device) if device else model, tokenizer, name=name)
    _loaded_reward_models[key] = scorer
    return scorer


def name_before_loading(spec: ObjectiveSpec) -> str | None:
    """The objective's name where the spec tells it (a `name=` prefix, a built-in's name, a reward model's id or
    folder); None for a scorer by import path, whose `name` is known once it is built."""
    if spec.rename or spec.kind == BUILTIN:
        return spec.rename or spec.target
    return Path(spec.target.rstrip("/\\")).name if spec.kind == REWARD_MODEL else None


def resolve_objective(spec: str, builtins: Mapping[str, Callable[[], Scorer]], device: str | None = None) -> Scorer:
    """The scorer of one objective spec, named as the objective (see the module docstring).

    Args:
        spec: A built-in objective's name, `module:attribute`, a reward model's id or folder, each optionally
            prefixed by `name=`.
        builtins: The built-in objectives, name -> a factory of its scorer (`settings.SCORERS`).
        device: Where a reward model runs; None: where it loads (the CPU).

    Raises:
        ValueError: If the spec fits no kind, its module cannot be imported, the attribute is missing or is no
            scorer, the reward model cannot be loaded, or the objective's name is not a valid name.
    """
    parsed = parse_spec(spec, builtins)
    if parsed.kind == BUILTIN:
        scorer = builtins[parsed.target]()
    elif parsed.kind == IMPORT_PATH:
        scorer = import_scorer(parsed)
    else:
        scorer = load_reward_model(parsed, name_before_loading(parsed), device)
    name = parsed.rename or scorer.name
    if not NAME.fullmatch(name) or name == "none":
        raise ValueError(
            f"objective {spec!r} is named {name!r}: a name is letters, digits, '_', '-' and '.' (and not 'none'); "
            "rename it with name=spec"
        )
    if parsed.kind == BUILTIN and name == scorer.name:
        return scorer
    return UserObjective(scorer, name, spec)


def resolve_objectives(
    specs: Sequence[str], builtins: Mapping[str, Callable[[], Scorer]], device: str | None = None
) -> list[Scorer]:
    """One scorer per spec, in order (see `resolve_objective`); the names must differ.

    Raises:
        ValueError: As `resolve_objective`, or if two objectives have the same name.
    """
    parsed = [parse_spec(spec, builtins) for spec in specs]  # every spec first: a typo fails before any loading
    known = [name for name in map(name_before_loading, parsed) if name is not None]
    repeated = sorted({name for name in known if known.count(name) > 1})
    if repeated:
        raise ValueError(f"objective name(s) {repeated} given twice; rename one with name=spec")
    scorers = [resolve_objective(spec, builtins, device) for spec in specs]
    names = [scorer.name for scorer in scorers]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        sources = [f"{spec!r} -> {name!r}" for spec, name in zip(specs, names, strict=True) if name in repeated]
        raise ValueError(f"objective name(s) {repeated} given twice ({', '.join(sources)}); rename one with name=spec")
    return scorers
