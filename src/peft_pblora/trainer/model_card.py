"""The model card a PARMTrainer writes: TRL's card (paper, training set-up, versions, citations) for a PARM adapter.

TRL's `generate_model_card` renders a template shipped inside the `trl` package; a PARM card needs more (the
objectives in alpha order, beta_r, the reward forms, the PBLoRA settings, how to guide with the adapter), so it
renders its own template with the same card data and the same sections.
"""

from __future__ import annotations

import textwrap
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from huggingface_hub import ModelCard, ModelCardData

PARM_PAPER = {
    "title": "PARM: Multi-Objective Test-Time Alignment via Preference-Aware Autoregressive Reward Model",
    "id": "2505.06274",
    # docstyle-ignore
    "citation": textwrap.dedent("""\
        @inproceedings{lin2025parm,
            title = {{PARM: Multi-Objective Test-Time Alignment via Preference-Aware Autoregressive Reward Model}},
            author = {Baijiong Lin and Weisen Jiang and Yuancheng Xu and Hao Chen and Ying-Cong Chen},
            year = 2025,
            booktitle = {Proceedings of the 42nd International Conference on Machine Learning, {ICML} 2025},
            eprint = {2505.06274},
            archivePrefix = {arXiv},
        }"""),
}

TRL_CITATION = textwrap.dedent("""\
    @software{vonwerra2020trl,
      title   = {{TRL: Transformers Reinforcement Learning}},
      author  = {von Werra, Leandro and Belkada, Younes and Tunstall, Lewis and Beeching, Edward and
                 Thrush, Tristan and Lambert, Nathan and Huang, Shengyi and Rasul, Kashif and Gallouédec, Quentin},
      license = {Apache-2.0},
      url     = {https://github.com/huggingface/trl},
      year    = {2020}
    }""")

# docstyle-ignore
PARM_CARD_TEMPLATE = """---
{{ card_data }}
---

# Model Card for {{ model_name }}

A PARM (preference-aware autoregressive reward model) adapter{% if base_model %} on \
[{{ base_model }}](https://huggingface.co/{{ base_model }}){% endif %}{% if dataset_name %}, trained on \
[{{ dataset_name }}](https://huggingface.co/datasets/{{ dataset_name }}){% endif %}. One PBLoRA adapter serves every \
trade-off between its {{ objectives | length }} objectives: a preference vector alpha (weights summing to 1, in the \
order below) selects the trade-off at inference, and the PARM guides a frozen base model token by token.
It has been trained with `PARMTrainer` from peft-pblora, on [TRL](https://github.com/huggingface/trl).

## Objectives (alpha order)

| alpha index | objective | beta_r | reward |
|---|---|---|---|
{% for row in objective_rows %}| {{ loop.index0 }} | {{ row.name }} | {{ row.beta_r }} | {{ row.reward }} |
{% endfor %}
## Quick start: guided decoding

```python
import peft_pblora  # registers PBLoRA with PEFT: import it before loading the adapter
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessorList
from peft_pblora import PARMGuidance

base_id = "{{ base_model or '<base model>' }}"
tokenizer = AutoTokenizer.from_pretrained(base_id, padding_side="left")
base = AutoModelForCausalLM.from_pretrained(base_id)
parm = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_id), "{{ hub_model_id or model_name }}")

enc = tokenizer(["How do I make a cup of tea?"], return_tensors="pt", padding=True)
alpha = {{ example_alpha }}  # weights of {{ objectives | join(", ") }}
guide = PARMGuidance(
    parm, alpha=alpha, beta=1.0, attention_mask=enc.attention_mask{% if log_ratio %}, reference="base"{% endif %}
)
out = base.generate(**enc, logits_processor=LogitsProcessorList([guide]), max_new_tokens=128)
print(tokenizer.decode(out[0, enc.input_ids.shape[1]:], skip_special_tokens=True))
```
{% if log_ratio %}
Every reward is relative to the starting model (the adapter disabled), so the PARM guides by its log-ratio to it
(`reference="base"` when the base being guided is that model).
{% endif %}
## Training procedure

This model was trained with {{ trainer_name }}, a method introduced in \
[{{ paper_title }}](https://huggingface.co/papers/{{ paper_id }}).

- PBLoRA: r1 = {{ pblora.r1 }}, r2 = {{ pblora.r2 }}, core = `{{ pblora.core }}`, target modules = \
{{ pblora.target_modules }}, lora_alpha = {{ pblora.lora_alpha }}
- Preferences: alpha ~ Dirichlet({{ dirichlet_concentration }}), drawn per {{ preference_sampling }}; \
{{ scalarization }} scalarization of the objectives' Bradley-Terry losses
- Tokens: max_prompt_length = {{ max_prompt_length }}, max_length = {{ max_length }}
- Optimisation: learning rate {{ learning_rate }}, {{ num_train_epochs }} epoch(s), \
{{ per_device_train_batch_size }} rows per device x {{ gradient_accumulation_steps }} accumulation step(s), \
seed {{ seed }}

### Framework versions

{% for name, value in versions %}- {{ name }}: {{ value }}
{% endfor %}
## Citations

Cite {{ trainer_name }} as:

```bibtex
{{ trainer_citation }}
```

Cite TRL as:

```bibtex
{{ trl_citation }}
```
"""


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _reward_form(length_normalized: bool, reference_relative: bool) -> str:
    form = "mean token log-probability" if length_normalized else "summed log-probability"
    return form + (" minus the reference's" if reference_relative else "")


def parm_model_card(
    *,
    args: Any,
    objectives: list[str],
    beta_r: list[float],
    length_normalized: list[bool],
    reference_relative: list[bool],
    pblora_config: Any | None,
    base_model: str | None,
    model_name: str,
    hub_model_id: str | None,
    dataset_name: str | None,
    tags: list[str],
) -> ModelCard:
    """The PARM's model card: TRL's card data and sections, with the objectives in alpha order, beta_r and the
    reward form of each, the PBLoRA settings and a guided-decoding snippet."""
    card_data = ModelCardData(
        base_model=base_model,
        datasets=dataset_name,
        library_name="peft",
        licence="license",
        model_name=model_name,
        tags=["generated_from_trainer", *tags],
    )
    k = len(objectives)
    pblora = {
        field: getattr(pblora_config, field, None) for field in ("r1", "r2", "core", "target_modules", "lora_alpha")
    }
    if isinstance(pblora["target_modules"], (set, list, tuple)):
        pblora["target_modules"] = sorted(pblora["target_modules"])
    versions = [
        (name, _version(package))
        for name, package in (
            ("peft-pblora", "peft-pblora"),
            ("PEFT", "peft"),
            ("TRL", "trl"),
            ("Transformers", "transformers"),
            ("Pytorch", "torch"),
            ("Datasets", "datasets"),
            ("Tokenizers", "tokenizers"),
        )
    ]
    return ModelCard.from_template(
        card_data,
        template_str=PARM_CARD_TEMPLATE,
        model_name=model_name,
        base_model=base_model,
        hub_model_id=hub_model_id,
        dataset_name=dataset_name,
        objectives=objectives,
        objective_rows=[
            {"name": name, "beta_r": f"{beta:g}", "reward": _reward_form(normalized, relative)}
            for name, beta, normalized, relative in zip(
                objectives, beta_r, length_normalized, reference_relative, strict=True
            )
        ],
        example_alpha=[round(1.0 / k, 4)] * k,
        log_ratio=all(reference_relative),
        pblora=pblora,
        dirichlet_concentration=f"{args.dirichlet_concentration:g}",
        preference_sampling=args.preference_sampling,
        scalarization=args.scalarization,
        max_prompt_length=args.max_prompt_length,
        max_length=args.max_length,
        learning_rate=f"{args.learning_rate:g}",
        num_train_epochs=f"{args.num_train_epochs:g}",
        per_device_train_batch_size=args.per_device_train_batch_size,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        seed=args.seed,
        versions=versions,
        trainer_name="PARM",
        paper_title=PARM_PAPER["title"],
        paper_id=PARM_PAPER["id"],
        trainer_citation=PARM_PAPER["citation"],
        trl_citation=TRL_CITATION,
    )
