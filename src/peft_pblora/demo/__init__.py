"""An interactive steering demo: a Gradio page that answers a prompt guided by a run's PARM at a chosen alpha.

`peft-pblora demo --output_dir runs/default` starts it. Everything here but `app` works without Gradio (which comes
with the `demo` extra), so the logic is testable without a browser and `import peft_pblora` never imports Gradio.
"""

from .batcher import GenerationBatcher, Job
from .session import DemoInputError, DemoSession, Row
from .simplex import alpha_from_first_weight, alpha_from_weights

__all__ = [
    "DemoInputError",
    "DemoSession",
    "GenerationBatcher",
    "Job",
    "Row",
    "alpha_from_first_weight",
    "alpha_from_weights",
]
