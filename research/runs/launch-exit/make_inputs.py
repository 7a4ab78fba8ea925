"""The launch test's inputs in a folder: a tiny model, two objectives' data and parm.yaml (research log section 49)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root, for the tests' helpers

from tests.scripts.parm_inputs import small_run_settings, write_config, write_model, write_objective_files  # noqa: E402

folder = Path(sys.argv[1])
model = write_model(folder / "model")
settings = small_run_settings(model, folder / "single", objective_datasets=write_objective_files(folder / "data"))
write_config(folder / "parm.yaml", settings)
