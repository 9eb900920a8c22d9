"""Every module of the app sits in a layer of the import contract (pyproject.toml), so a new
module cannot slip past `lint-imports` by being named nowhere."""
from __future__ import annotations

import pkgutil
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Django's own shape, not a layer: settings every layer reads, migrations Django runs, package inits
OUTSIDE_THE_LAYERS = {"tasks_app", "tasks_app.migrations", "xantuus", "xantuus.settings"}


def _contract(contract_id: str) -> dict:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["id"] == contract_id)


def _layered_modules() -> set[str]:
    """Every module named in a layer; "(name)" is an optional one (a module not written yet)."""
    return {name.strip("()") for layer in _contract("layers")["layers"]
            for name in re.split(r"\s*[:|]\s*", layer.strip())}


def _children(package: str) -> set[str]:
    return {f"{package}.{info.name}" for info in pkgutil.iter_modules([str(ROOT / package)])}


def test_every_module_of_the_app_is_in_a_layer():
    layered = _layered_modules()
    unplaced = sorted(name for name in _children("tasks_app") | _children("xantuus")
                      if name not in layered and name not in OUTSIDE_THE_LAYERS)
    assert unplaced == [], f"add these to a layer of [tool.importlinter] in pyproject.toml: {unplaced}"


def test_the_layers_run_from_the_faces_down_to_the_tools():
    layers = _contract("layers")["layers"]
    assert "tasks_app.api" in layers[0] and "tasks_app.services" in layers[1]
    assert layers[2:] == ["agents", layers[3], "tools"] and "tasks_app.models" in layers[3]
