"""Start-up time of `peft-pblora demo`, phase by phase, each run in a fresh Python process (as the command starts).

The phases follow `demo.cli.main`: import the package (torch, transformers, peft), read the run's settings (its
scorers are made there), load the base model (the packaged SmolLM2 from the conversion cache), make the PARM's
starting model, load the trained adapter onto it, make the guidance reference, import the page module (Gradio),
build the Gradio Blocks and launch the server. With `--cold` each process also runs with PEFT_PBLORA_CACHE set to an
empty temporary folder, so the base model is converted from its GGUF file (the first start on a machine).
`--full_copy_parm` makes the PARM's starting model as training does (`parm_start`: a new model loaded with the base's
weights), as the demo did before it shared the base's weights. The run folder is only read.

    python benchmarks/bench_demo_startup.py --output_dir runs/default
    python benchmarks/bench_demo_startup.py --output_dir runs/default --cold --cold_repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

PHASES = {
    "import": "import peft_pblora (torch, transformers, peft)",
    "settings": "read settings.json, make the scorers",
    "base": "load the base model and tokenizer",
    "parm_start": "make the PARM's starting model",
    "adapter": "load the trained adapter (PeftModel)",
    "reference": "make the guidance reference",
    "session_rest": "rest of load_session (sweep.json, session)",
    "import_app": "import the page module (gradio)",
    "build": "build the Gradio Blocks",
    "launch": "launch the server",
}


def timed(phases: dict[str, float], name: str, function: Callable) -> Callable:
    """`function`, adding the seconds each call takes to phases[name]."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - start

    return wrapped


def measure(output_dir: str, full_copy_parm: bool = False) -> dict[str, float]:
    """One start-up in this process: each phase's seconds (call it in a fresh process only)."""
    import socket
    import types

    phases: dict[str, float] = {}
    start = time.perf_counter()
    import torch  # noqa: F401  (timed in "import": what the package needs)

    from peft_pblora.demo import loading

    phases["import"] = time.perf_counter() - start

    if full_copy_parm:
        loading.demo_parm_start = loading.parm_start
    loading.run_settings = timed(phases, "settings", loading.run_settings)
    loading.load_model_and_tokenizer = timed(phases, "base", loading.load_model_and_tokenizer)
    loading.demo_parm_start = timed(phases, "parm_start", loading.demo_parm_start)
    loading.guidance_reference = timed(phases, "reference", loading.guidance_reference)
    loading.PeftModel = types.SimpleNamespace(
        from_pretrained=timed(phases, "adapter", loading.PeftModel.from_pretrained)
    )
    start = time.perf_counter()
    session = loading.load_session(output_dir, device="cpu")
    total = time.perf_counter() - start
    phases["session_rest"] = total - sum(phases[name] for name in PHASES if name in phases and name != "import")

    start = time.perf_counter()
    from peft_pblora.demo.app import build_app

    phases["import_app"] = time.perf_counter() - start
    start = time.perf_counter()
    page = build_app(session)
    phases["build"] = time.perf_counter() - start
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.perf_counter()
    page.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, ssr_mode=False, quiet=True)
    phases["launch"] = time.perf_counter() - start
    page.close()
    page.batcher.close()
    return phases


def fresh_process(output_dir: str, cold: bool, full_copy_parm: bool) -> dict[str, float]:
    """`measure` in a new interpreter; cold: with the conversion cache in a new empty folder."""
    environment = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    with tempfile.TemporaryDirectory(prefix="peft_pblora_cold_cache-") as empty:
        if cold:
            environment["PEFT_PBLORA_CACHE"] = empty
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--output_dir", output_dir, "--child"]
            + (["--full_copy_parm"] if full_copy_parm else []),
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"the measuring process failed:\n{done.stderr[-3000:]}")
    phases = json.loads(done.stdout.strip().splitlines()[-1])
    phases["process"] = wall
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", required=True, help="A run folder with a trained parm_adapter/ (read only).")
    parser.add_argument("--repeats", type=int, default=3, help="Fresh processes per column; the table shows medians.")
    parser.add_argument("--cold", action="store_true", help="Also measure with an empty conversion cache.")
    parser.add_argument("--cold_repeats", type=int, default=1, help="Fresh processes with an empty cache.")
    parser.add_argument(
        "--full_copy_parm", action="store_true", help="Start the PARM from a full copy of the base (the old way)."
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(measure(options.output_dir, options.full_copy_parm)))
        return
    if options.repeats < 1 or options.cold_repeats < 1:
        raise ValueError(
            f"--repeats and --cold_repeats must be at least 1, got {options.repeats}, {options.cold_repeats}"
        )

    def runs(cold: bool, count: int) -> list[dict[str, float]]:
        return [fresh_process(options.output_dir, cold, options.full_copy_parm) for _ in range(count)]

    columns = {f"warm cache (median of {options.repeats})": runs(False, options.repeats)}
    if options.cold:
        columns[f"empty cache (median of {options.cold_repeats})"] = runs(True, options.cold_repeats)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"run folder: {options.output_dir}; {os.cpu_count()} CPUs, OMP_NUM_THREADS={threads}", end="")
    print(f"; load average after: {' '.join(f'{value:.2f}' for value in load)}" if load else "")
    parm = "a full copy of the base (--full_copy_parm)" if options.full_copy_parm else "the demo's (shared weights)"
    print(f"PARM start: {parm}; seconds, each column's fresh processes\n")
    rows = [*PHASES.items(), ("total", "sum of the phases"), ("process", "whole process (interpreter start, exit)")]
    print(f"| phase | {' | '.join(columns)} |")
    print(f"|---|{'---:|' * len(columns)}")
    for name, description in rows:
        cells = []
        for runs in columns.values():
            values = [sum(run[key] for key in PHASES) if name == "total" else run[name] for run in runs]
            cells.append(f"{statistics.median(values):.1f}")
        print(f"| {description} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
