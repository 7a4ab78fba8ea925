"""`python -m peft_pblora run ...`: the `peft-pblora` command."""

import sys

from .pipeline.cli import main

sys.exit(main())
