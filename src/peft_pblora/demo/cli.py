"""`peft-pblora demo`: serve a run folder's PARM as a local web page (Gradio), e.g.

peft-pblora demo --output_dir runs/default           # http://127.0.0.1:7860
peft-pblora demo --output_dir runs/x --port 8000 --max_batch_size 16
"""

from __future__ import annotations

import argparse
import logging
import sys

from .errors import RunFolderError


def parser() -> argparse.ArgumentParser:
    """The demo's options."""
    arguments = argparse.ArgumentParser(
        prog="peft-pblora demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    arguments.add_argument("--output_dir", default="runs/default", help="A run folder with a trained parm_adapter/.")
    arguments.add_argument("--device", default=None, help="cpu, cuda, cuda:1...; default: the first GPU if any.")
    arguments.add_argument(
        "--max_new_tokens", type=int, default=None, help="Most new tokens per answer; default: the run's sweep_tokens."
    )
    arguments.add_argument(
        "--max_batch_size", type=int, default=8, help="Most answers decoded together (several users' requests)."
    )
    arguments.add_argument("--host", default="127.0.0.1", help="Address to serve on (0.0.0.0: every interface).")
    arguments.add_argument("--port", type=int, default=7860, help="Port to serve on.")
    arguments.add_argument("--share", action="store_true", help="Also ask Gradio for a public share link.")
    return arguments


def main(argv: list[str] | None = None) -> int:
    """Load the run folder (refusing one without a trained adapter) and serve the page until interrupted."""
    options = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from .loading import load_session

    try:
        session = load_session(options.output_dir, device=options.device, max_new_tokens=options.max_new_tokens)
    except RunFolderError as error:
        print(f"peft-pblora demo: error: {error}", file=sys.stderr)
        return 2
    try:
        from .app import build_app
    except ImportError as error:
        hint = "install the demo extra: pip install 'peft-pblora[demo]'"
        print(f"peft-pblora demo: error: {error}; {hint}", file=sys.stderr)
        return 2
    page = build_app(session, max_batch_size=options.max_batch_size)
    page.launch(server_name=options.host, server_port=options.port, share=options.share, ssr_mode=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
