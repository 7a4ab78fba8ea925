"""The shipped accelerate configs that run on CPUs, launched with 2 processes on a tiny model: every rank ends with
the same adapter, the one saved, and equal to a single process trained on both ranks' batches at once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import torch
from peft import get_peft_model_state_dict
from safetensors.torch import load_file

from peft_pblora.scripts.parm import make_parser, train

from ..conftest import REPO
from .parm_inputs import small_run_settings, write_config, write_model, write_objective_files

# accelerate 1.15 turns FSDP on only for GPU-like backends: on CPUs fsdp.yaml runs as gloo data parallel
# (accelerate/state.py, AcceleratorState); FSDP2's sharding itself needs a multi-GPU machine to test.
EXPECTED_DISTRIBUTED_TYPE = {"ddp": "MULTI_CPU", "fsdp": "MULTI_CPU"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A model folder, two objectives' data and the single-process reference adapter: batch 4, the 2 x 2 rows the
    two ranks see at each step."""
    folder = tmp_path_factory.mktemp("launch")
    model = write_model(folder / "model")
    settings = small_run_settings(model, folder / "single", objective_datasets=write_objective_files(folder / "data"))
    config = write_config(folder / "parm.yaml", settings)
    trainer = train(
        *make_parser().parse_args_and_config(["--config", str(config), "--per_device_train_batch_size", "4"])
    )
    reference = {name: value.detach().clone() for name, value in get_peft_model_state_dict(trainer.model).items()}
    return config, reference


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_processes_train_identical_adapters_equal_to_one_process_on_the_same_rows(inputs, tmp_path, strategy):
    config, reference = inputs
    with socket.socket() as probe:  # a free port, so that parallel or leftover runs cannot clash
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file"]
    command += [str(REPO / "recipes" / "accelerate" / f"{strategy}.yaml"), "--num_processes", "2"]
    command += ["--mixed_precision", "no", "--main_process_port", str(port)]  # the configs ask for bf16 GPUs
    command += [str(REPO / "tests" / "scripts" / "launch_parm.py"), "--config", str(config)]
    command += ["--output_dir", str(tmp_path / "out")]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(tmp_path / "out" / f"rank{rank}.pt") for rank in range(2)]
    assert [rank["world_size"] for rank in ranks] == [2, 2] and ranks[0]["backend"] == "gloo"
    assert ranks[0]["distributed_type"] == f"DistributedType.{EXPECTED_DISTRIBUTED_TYPE[strategy]}"
    saved = load_file(tmp_path / "out" / "adapter_model.safetensors")
    assert sorted(saved) == sorted(reference) == sorted(ranks[0]["weights"])
    for name, value in ranks[0]["weights"].items():
        torch.testing.assert_close(ranks[1]["weights"][name], value, rtol=0, atol=0, msg=name)
        torch.testing.assert_close(saved[name], value, rtol=0, atol=0, msg=name)
        # gradients averaged over the ranks: one process on the same 4 rows, up to the order of the sums
        torch.testing.assert_close(value, reference[name], rtol=1e-4, atol=1e-5, msg=name)
    assert any(name.endswith("pblora_B.weight") and value.abs().max() > 1e-3 for name, value in saved.items())
