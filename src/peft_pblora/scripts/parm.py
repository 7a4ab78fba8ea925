"""Train a PARM, as TRL's `scripts/dpo.py` trains a DPO model: a YAML `--config`, flags that override it.

```bash
# one dataset per objective (prompt / chosen / rejected): hub ids, saved folders or local files
python -m peft_pblora.scripts.parm \
    --model_name_or_path TinyLlama/TinyLlama-1.1B-Chat-v1.0 \
    --objective_datasets '{"helpful": "data/helpful.jsonl", "harmless": "data/harmless.jsonl"}' \
    --r1 4 --r2 4 --lora_target_modules q_proj k_proj v_proj \
    --beta_r 0.01 --learning_rate 5e-4 --output_dir parm

# the same from a YAML file (objective_datasets as a mapping), several GPUs, a flag overriding the file
accelerate launch --config_file recipes/accelerate/ddp.yaml -m peft_pblora.scripts.parm \
    --config recipes/pku_saferlhf/train.yaml --learning_rate 1e-4
```

Arguments: `PARMScriptArguments` (TRL's `ScriptArguments` plus `objective_datasets`), `PARMConfig`,
`PARMModelConfig` (TRL's `ModelConfig`; its `lora_*` fields configure the PBLoRA adapter) and `PBLoraArguments`
(`r1`, `r2`, `core`). Bad input (no or two kinds of data, a missing dataset, split or column, an unknown objective,
a LoRA-only option) is a ValueError naming it, raised before the model is loaded.
"""

from __future__ import annotations

import json

import torch
from accelerate import PartialState
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, set_seed
from trl import TrlParser, get_quantization_config

from ..trainer.parm_config import PARMConfig
from ..trainer.parm_trainer import PARMTrainer
from .arguments import PARMModelConfig, PARMScriptArguments, PBLoraArguments, pblora_config
from .dataset_sources import load_parm_datasets


def make_parser() -> TrlParser:
    """The script's parser: `parse_args_and_config()` returns (script, training, model, PBLoRA) arguments."""
    return TrlParser((PARMScriptArguments, PARMConfig, PARMModelConfig, PBLoraArguments))


def load_model(model_args: PARMModelConfig, training_args: PARMConfig) -> PreTrainedModel:
    """The base model as `ModelConfig` describes it (dtype, attention, 4/8-bit quantization), plus the config's
    `model_init_kwargs`."""
    if model_args.model_name_or_path is None:
        raise ValueError("model_name_or_path is required: the PARM's starting model (hub id or folder)")
    quantization_config = get_quantization_config(model_args)
    kwargs = dict(
        revision=model_args.model_revision,
        dtype=model_args.dtype,
        attn_implementation=model_args.attn_implementation,
        trust_remote_code=getattr(training_args, "trust_remote_code", False),
        quantization_config=quantization_config,
        # a quantized model is placed at loading: on this process's GPU
        device_map={"": PartialState().local_process_index} if quantization_config is not None else None,
    )
    kwargs.update(training_args.model_init_kwargs or {})
    return AutoModelForCausalLM.from_pretrained(model_args.model_name_or_path, **kwargs)


def train(
    script_args: PARMScriptArguments,
    training_args: PARMConfig,
    model_args: PARMModelConfig,
    pblora_args: PBLoraArguments,
) -> PARMTrainer:
    """Load the data (checked first), the model and its tokenizer; train, save the adapter, evaluate with
    `do_eval`; returns the trainer."""
    with training_args.main_process_first(desc="loading the datasets"):
        train_dataset, eval_dataset = load_parm_datasets(script_args, training_args)
    objectives = list(train_dataset) if isinstance(train_dataset, dict) else list(training_args.label_columns)
    peft_config = pblora_config(model_args, pblora_args, objectives)
    tokenizer = AutoTokenizer.from_pretrained(
        model_args.model_name_or_path,
        revision=model_args.model_revision,
        trust_remote_code=getattr(training_args, "trust_remote_code", False),
    )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    set_seed(training_args.seed)  # PEFT draws the adapter's initial weights when the trainer wraps the model
    trainer = PARMTrainer(
        model=load_model(model_args, training_args),
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    if script_args.ignore_bias_buffers:  # TRL's fix for DDP and boolean buffers
        trainer.model._ddp_params_and_buffers_to_ignore = [
            name for name, buffer in trainer.model.named_buffers() if buffer.dtype == torch.bool
        ]
    result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.log_metrics("train", result.metrics)
    trainer.save_metrics("train", result.metrics)
    trainer.save_state()
    if trainer.is_fsdp_enabled:  # with a sharded state dict save_model writes no adapter: gather it (as TRL's SFT)
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(training_args.output_dir)
    trainer.accelerator.print(f"Adapter saved to {training_args.output_dir}")
    if eval_dataset is not None:
        metrics = trainer.evaluate()
        trainer.log_metrics("eval", metrics)
        trainer.save_metrics("eval", metrics)
        trainer.accelerator.print(json.dumps(metrics, indent=2))
    if training_args.push_to_hub:
        trainer.push_to_hub()
    return trainer


def main(argv: list[str] | None = None) -> None:
    """Parse `argv` (default: the command line) with `--config`, train, and end the trainer's processes."""
    trainer = train(*make_parser().parse_args_and_config(argv))
    trainer.end()


if __name__ == "__main__":
    main()
