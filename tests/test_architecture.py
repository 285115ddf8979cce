"""The import rules of docs/architecture.md, checked on the source (the AST of every module).

Stages: ``scraper`` (bytes from the web), ``parsers`` (bytes → records), ``archive`` (records →
SQLite). A stage imports only the ground modules and the data models of the stage before it;
the orchestration in ``kpi_archive`` (load, crawl, crawlstate, cli) is the only place that ties
stages together. No module imports, directly or through others, a module that imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("scraper", "parsers", "archive", "kpi_archive")
GROUND = {"kpi_archive", "kpi_archive.errors", "kpi_archive.config", "kpi_archive.web",
          "parsers.thai"}  # fmt: skip
ALLOWED = {
    "scraper": GROUND,
    "parsers": GROUND,
    "archive": GROUND | {"parsers.models", "scraper.models"},
}


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] in PACKAGES}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found


def stage_of(name: str) -> str:
    return name.split(".")[0]


MODULES = modules()
GRAPH = {name: imports_of(path, set(MODULES)) for name, path in MODULES.items()}
STAGE_MODULES = [n for n in MODULES if stage_of(n) in ALLOWED and n not in GROUND]


@pytest.mark.parametrize("name", STAGE_MODULES)
def test_a_stage_imports_only_ground_modules_and_the_models_before_it(name: str) -> None:
    stage = stage_of(name)
    foreign = {m for m in GRAPH[name] if stage_of(m) != stage and m not in ALLOWED[stage]}
    assert foreign == set()


@pytest.mark.parametrize("name", sorted(GROUND - {"kpi_archive"}))
def test_ground_modules_import_only_ground_modules(name: str) -> None:
    assert GRAPH[name] - GROUND == set()


def test_no_module_imports_itself_through_others() -> None:
    circles = []
    for start in GRAPH:
        seen: set[str] = set()
        todo = [m for m in GRAPH[start] if m != start and not start.startswith(m + ".")]
        while todo:
            name = todo.pop()
            if name == start:
                circles.append(start)
                break
            if name in seen or name not in GRAPH:
                continue
            seen.add(name)
            # A package's __init__ importing its own submodules is how packages work, not a circle.
            todo += [m for m in GRAPH[name] if not name.startswith(m + ".")]
    assert circles == []
