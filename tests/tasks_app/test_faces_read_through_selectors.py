"""The faces read through selectors (issue 15, 10): no API view, serializer or page queries a model itself.

Reads go through tasks_app/selectors.py, account_selectors.py, ops_selectors.py (or a store module's
owner-scoped function); writes through the services. A model's manager named in a face is a query
written in the wrong layer, and so is Django's get_object_or_404 on a model.
"""
from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "tasks_app"
FACES = [*sorted((APP / "api").glob("*.py")),
         *(APP / name for name in ("pages.py", "approval_pages.py", "trace_pages.py", "wizard_pages.py",
                                   "ops_pages.py"))]
SHORTCUTS = {"get_object_or_404", "get_list_or_404"}


def direct_queries(path: Path) -> list[str]:
    where = f"{path.relative_to(APP.parent)}:"
    hits = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and node.attr in ("objects", "_default_manager"):
            hits.append(f"{where}{node.lineno} .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in SHORTCUTS:
            hits.append(f"{where}{node.lineno} {node.id}")
    return hits


def test_the_faces_list_is_real():
    assert all(path.is_file() for path in FACES) and len(FACES) > 20


def test_no_face_queries_a_model_directly():
    assert [hit for path in FACES for hit in direct_queries(path)] == []
