"""The built wheel: its metadata, extras, entry point and package data are what `pip install .` promises."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import peft_pblora

REPO = Path(__file__).resolve().parent.parent


def test_the_wheel_carries_version_dependencies_extras_entry_point_and_data(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("peft_pblora-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info_dir = next(name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA"))
        metadata = archive.read(f"{info_dir}/METADATA").decode()
        entry_points = archive.read(f"{info_dir}/entry_points.txt").decode()
    lines = metadata.splitlines()
    assert f"Version: {peft_pblora.__version__}" in lines and "Name: peft-pblora" in lines
    requires = [line.split(": ", 1)[1] for line in lines if line.startswith("Requires-Dist: ")]
    core = [requirement for requirement in requires if "extra ==" not in requirement]
    for package in ("torch", "transformers", "peft", "trl", "datasets", "moocore", "vaderSentiment", "tqdm"):
        assert any(requirement.startswith(package) for requirement in core), package
    extras = {line.split(": ", 1)[1] for line in lines if line.startswith("Provides-Extra: ")}
    assert extras == {"dev", "docs", "demo", "recipes"}
    assert any(
        requirement.startswith("bitsandbytes") and 'extra == "recipes"' in requirement for requirement in requires
    )
    assert any(requirement.startswith("gguf") and 'extra == "demo"' in requirement for requirement in requires)
    assert any(requirement.startswith("mkdocs") and 'extra == "docs"' in requirement for requirement in requires)
    assert "peft-pblora = peft_pblora.pipeline.cli:main" in entry_points
    assert "peft_pblora/data/prompts.txt" in names
    assert "peft_pblora/data/smollm2_candidates/generation.json" in names
    assert not any(name.startswith(("tests/", "recipes/", "benchmarks/")) for name in names)
