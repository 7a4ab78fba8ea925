"""The PBLoRA section of the model card (README.md) that PeftModel.save_pretrained writes next to an adapter.

PEFT's card names the base model and the PEFT version; a PARM also needs its objectives in alpha order, the beta_r
it was trained with, and how to load and steer it, since none of that is standard PEFT usage.
"""

from __future__ import annotations

from typing import Any

from .config import PBLoraConfig

SECTION_HEADING = "## PBLoRA preference-conditioned adapter (peft-pblora)"
SECTION_END = "<!-- end of the peft-pblora section -->"


def pblora_card_section(config: PBLoraConfig, adapter_name: str = "default") -> str:
    """Markdown describing one PBLoRA adapter: base model, objectives in alpha order, beta_r, loading and steering."""
    base_model = config.base_model_name_or_path or "the base model it was trained on"
    objectives = config.objective_names or []
    vertex = [1.0] + [0.0] * (len(objectives) - 1)
    beta_r = ", ".join(f"{name}: {value:g}" for name, value in zip(objectives, config.beta_r or [], strict=False))
    return "\n".join(
        [
            SECTION_HEADING,
            "",
            "A PARM (arXiv 2505.06274): one autoregressive reward model conditioned on a preference vector alpha "
            "through a PBLoRA adapter. Guide a frozen base model with it, choosing alpha per request.",
            "",
            f"- Base model: `{base_model}`",
            f"- Adapter name: `{adapter_name}`",
            f"- Objectives in alpha order: {', '.join(f'`{name}`' for name in objectives)} "
            f"(alpha[i] weights objective i; alpha lies on the simplex)",
            f"- beta_r (training): {beta_r or 'not recorded'}",
            f"- PBLoRA: r1={config.r1}, r2={config.r2}, scaling={config.adapter_scaling:g}, "
            f"target modules {sorted(config.target_modules) if config.target_modules else 'PEFT defaults'}",
            "",
            "### Load and steer",
            "",
            "```python",
            "import peft_pblora  # registers PBLoRA with PEFT: import it before loading the adapter",
            "from peft import PeftModel",
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            "",
            f'parm_base = AutoModelForCausalLM.from_pretrained("{base_model}")',
            'parm = PeftModel.from_pretrained(parm_base, "path/to/adapter")',
            'base = AutoModelForCausalLM.from_pretrained("a base model with the same tokenizer")',
            f'tokenizer = AutoTokenizer.from_pretrained("{base_model}")',
            f"alpha = {vertex}  # weights of {objectives}",
            "guidance = peft_pblora.PARMGuidance(parm, alpha, beta=0.25)  # scores = log pi_base + log pi_PARM / beta",
            'inputs = tokenizer("...", return_tensors="pt")',
            "output = base.generate(**inputs, logits_processor=[guidance], max_new_tokens=128)",
            "```",
            "",
            SECTION_END,
        ]
    )


def add_pblora_sections(card_text: str, peft_configs: dict[str, Any]) -> str:
    """`card_text` with one up-to-date PBLoRA section per PBLoRA adapter (earlier sections replaced)."""
    while SECTION_HEADING in card_text and SECTION_END in card_text:
        start = card_text.index(SECTION_HEADING)
        end = card_text.index(SECTION_END, start) + len(SECTION_END)
        card_text = card_text[:start].rstrip("\n") + card_text[end:]
    sections = [
        pblora_card_section(config, name) for name, config in peft_configs.items() if isinstance(config, PBLoraConfig)
    ]
    return card_text.rstrip("\n") + "\n\n" + "\n\n".join(sections) + "\n" if sections else card_text
