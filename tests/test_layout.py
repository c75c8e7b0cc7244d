"""The layout's rules, checked on the source (every import, at the top of a module or inside a
function): no circle of modules; annotate reaches into rewardmodel only through its documented
seam (the rows, rewardmodel.models, and the job machinery, rewardmodel.jobs); the trainers and
what both apps share import no Django. See rewardmodel/__init__.py and annotate/__init__.py."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pairwise", "annotate", "rewardmodel")
# What annotate may import from rewardmodel (annotate/__init__.py says why).
SEAM = (
    "rewardmodel.models",
    "rewardmodel.jobs.lifecycle",
    "rewardmodel.jobs.execute",
    "rewardmodel.jobs.workers",
)
# Django-free: the trainers (run from a shell, a worker or `accelerate launch`) and what they share.
DJANGO_FREE = (
    "rewardmodel.training",
    "pairwise.files",
    "pairwise.progress",
    "pairwise.humanize",
    "pairwise.errors",
)


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _imports(name: str, path: Path) -> set[str]:
    """Every module name this module imports, anywhere in it (relative imports resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()

    def own(target: str) -> str | None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target or None

    graph = {}
    for name, path in modules.items():
        targets = {own(t) for t in _imports(name, path)}
        # An empty package's __init__ is a folder, not a module that imports anything.
        graph[name] = {t for t in targets if t and t != name and modules[t].read_text().strip()}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_itself_through_others():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_annotate_reaches_into_rewardmodel_only_through_its_seam():
    graph = _graph()
    arrows = sorted(
        (module, target)
        for module, targets in graph.items()
        if module.startswith("annotate")
        for target in targets
        if target.startswith("rewardmodel") and not target.startswith(SEAM)
    )
    assert arrows == []


def test_the_trainers_and_what_both_apps_share_import_no_django_and_no_app():
    modules = _modules()
    for name, path in modules.items():
        if not name.startswith(DJANGO_FREE):
            continue
        imported = _imports(name, path)
        assert not {m for m in imported if m.split(".")[0] in ("django", "rest_framework", "celery")}, name
        assert not {
            m for m in imported if m.startswith(("annotate", "rewardmodel")) and not m.startswith(DJANGO_FREE)
        }, name
