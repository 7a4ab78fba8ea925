"""The PBLoRA section save_pretrained adds to the adapter's model card."""

from __future__ import annotations

from peft import LoraConfig, get_peft_model

from peft_pblora import PBLoraConfig
from peft_pblora.tuners.pblora.model_card import SECTION_HEADING

from ..conftest import tiny_llama


def test_save_pretrained_writes_one_section_per_pblora_adapter_and_updates_it(tmp_path):
    config = PBLoraConfig(
        r1=2, r2=3, num_preferences=3, objective_names=["helpful", "harmless", "humour"], target_modules=["q_proj"]
    )
    model = get_peft_model(tiny_llama(), config)
    model.save_pretrained(str(tmp_path))
    card = (tmp_path / "README.md").read_text()
    assert card.count(SECTION_HEADING) == 1
    assert "Objectives in alpha order: `helpful`, `harmless`, `humour`" in card
    assert "beta_r (training): not recorded" in card
    assert "r1=2, r2=3" in card and "alpha = [1.0, 0.0, 0.0]" in card
    assert "- PEFT " in card  # PEFT's own card is kept

    model.peft_config["default"].beta_r = [0.1, 0.2, 0.3]
    model.save_pretrained(str(tmp_path))
    card = (tmp_path / "README.md").read_text()
    assert card.count(SECTION_HEADING) == 1, "a second save replaces the section instead of appending another"
    assert "helpful: 0.1, harmless: 0.2, humour: 0.3" in card


def test_a_lora_adapter_card_gets_no_pblora_section(tmp_path):
    get_peft_model(tiny_llama(), LoraConfig(r=2, target_modules=["q_proj"])).save_pretrained(str(tmp_path))
    assert SECTION_HEADING not in (tmp_path / "README.md").read_text()
