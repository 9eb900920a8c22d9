"""The owner's data as tools see it: one store per name, built lazily for a step's ToolContext.

Each module here implements the store Protocol its tool declares (tools.files.FileStore ...)
over the app's models, scoped to one owner, task and run; a store never reaches another
owner's rows.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

STORE_MODULES = {
    "files": "agents.stores.files",
    "contacts": "agents.stores.contacts",
    "crm": "agents.stores.crm",
    "prices": "agents.stores.prices",
}


@dataclass(frozen=True)
class Scope:
    """Whose data, and which run of which task is asking."""

    owner_id: int
    task_id: str
    run: int


class OwnerStores(Mapping[str, Any]):
    """context.stores: imports and builds a store only when a tool asks for it."""

    def __init__(self, scope: Scope):
        self.scope = scope
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in STORE_MODULES:
                raise KeyError(name)
            self._built[name] = importlib.import_module(STORE_MODULES[name]).Store(self.scope)
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(STORE_MODULES)

    def __len__(self) -> int:
        return len(STORE_MODULES)
