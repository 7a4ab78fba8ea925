"""Every name the README, the docs and the examples import from peft_pblora imports, and so does `__all__`."""

from __future__ import annotations

import importlib
import re

import pytest

import peft_pblora

from .conftest import REPO

IMPORT = re.compile(r"^\s*(?:>>>\s*)?from (peft_pblora(?:\.\w+)*) import \(?([\w, ]+)\)?\s*(?:#.*)?$", re.M)
DOCUMENTED_FILES = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *sorted((REPO / "examples").glob("*.py")),
]


def documented_imports() -> list[tuple[str, str, str]]:
    """(file, module, name) for each `from peft_pblora... import name` line of the documented files."""
    found = []
    for path in DOCUMENTED_FILES:
        for module, names in IMPORT.findall(path.read_text(encoding="utf-8")):
            for name in re.sub(r"#.*|\.\.\.|>>>", " ", names).strip("()").split(","):
                name = name.strip().split(" as ")[0]
                if name:
                    found.append((path.name, module, name))
    return found


def test_the_documented_files_import_from_peft_pblora():
    modules = {module for _, module, _ in documented_imports()}
    assert "peft_pblora" in modules and len(documented_imports()) > 30


@pytest.mark.parametrize(("file", "module", "name"), documented_imports())
def test_each_documented_import_works(file, module, name):
    assert hasattr(importlib.import_module(module), name), f"{file}: from {module} import {name}"


def test_every_public_name_resolves():
    missing = [name for name in peft_pblora.__all__ if not hasattr(peft_pblora, name)]
    assert missing == []
