"""tests/scripts/launch_parm.py with transformers' own `Trainer.end` in place of PARMTrainer's: no wait for every
process before the process group is destroyed, as before the fix (research log section 49)."""

import runpy
from pathlib import Path

from transformers import Trainer

from peft_pblora import PARMTrainer

PARMTrainer.end = Trainer.end
runpy.run_path(str(Path(__file__).resolve().parents[3] / "tests" / "scripts" / "launch_parm.py"), run_name="__main__")
