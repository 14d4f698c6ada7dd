"""Print the domain → domain import graph of app/ and check its rules.

    python scripts/import_graph.py            # the graph, then the checks
    python scripts/import_graph.py --check    # the checks only (exit 1 on a violation)

Every ``import`` in app/ counts, module level or inside a function, because an
import moved into a function to dodge a cycle is still an edge (style.md).

A *domain* is a folder under app/ (auth, projects, jobs, training, …) or a
top-level module. Three kinds of names are told apart:

* shared foundations every layer may import: models, config, db, errors, deps,
  security, templating, audit, markdown, inputs (request types), openapi
  (documented error answers), pagination (page cursors), access (which projects
  an actor may read, change or work in);
* composition roots, which wire the domains together and may import any of
  them: main (routers), job_kinds (job kinds), cli, demo, demo_data, migrate;
* everything else is a domain.

Rules checked: no cycle between domains, and app/jobs (the queue) imports no
domain at all; a runner is handed to it by the composition root.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
FOUNDATIONS = frozenset(
    {"models", "config", "db", "errors", "deps", "security", "templating", "audit", "markdown",
     "inputs", "openapi", "pagination", "access", "__init__"}
)
ROOTS = frozenset({"main", "job_kinds", "cli", "demo", "demo_data", "migrate"})
QUEUE = "jobs"


def domain_of(module: str) -> str | None:
    """``app.jobs.worker`` → ``jobs``; ``app.cli`` → ``cli``; outside app → None."""
    parts = module.split(".")
    if parts[0] != "app":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(APP.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = APP.parent.joinpath(*name.split("."))
    return path.is_dir() or path.with_suffix(".py").is_file()


def _imported(tree: ast.AST, module: str, is_package: bool) -> Iterable[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                keep = len(base) - node.level + (1 if is_package else 0)
                prefix = ".".join(base[:keep])
                target = f"{prefix}.{node.module}" if node.module else prefix
            else:
                target = node.module or ""
            yield target
            # ``from app import jobs`` imports the package app.jobs (but ``from app
            # import __version__`` imports a name, not a module)
            for alias in node.names:
                name = f"{target}.{alias.name}"
                if _is_module(name):
                    yield name


def edges(app: Path = APP) -> Counter[tuple[str, str]]:
    """(importing domain, imported domain) → number of import statements."""
    found: Counter[tuple[str, str]] = Counter()
    for path in sorted(app.rglob("*.py")):
        module = _module_name(path)
        source = domain_of(module)
        if source is None:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = {
            domain_of(t) for t in _imported(tree, module, path.name == "__init__.py")
        }
        for target in targets:
            if target is not None and target != source and target != "__init__":
                # `from app.x import y` yields app.x and app.x.y: one edge per file
                found[(source, target)] += 1
    return found


def domain_edges(graph: Counter[tuple[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for (a, b) in graph:
        if a in FOUNDATIONS or b in FOUNDATIONS or a in ROOTS:
            continue
        out.setdefault(a, set()).add(b)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle found by a depth-first walk (small graph: fine)."""
    found: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                key = tuple(sorted(path))
                if key not in seen:
                    seen.add(key)
                    found.append([*path, start])
            elif nxt not in path and nxt > start:
                walk(start, nxt, [*path, nxt])

    for start in sorted(graph):
        walk(start, start, [start])
    return found


def violations(graph: Counter[tuple[str, str]]) -> list[str]:
    problems = []
    dom = domain_edges(graph)
    for cycle in cycles(dom):
        problems.append("cycle: " + " → ".join(cycle))
    for target in sorted(dom.get(QUEUE, ())):
        problems.append(f"the queue (app/{QUEUE}) imports the domain {target!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only the checks")
    args = parser.parse_args(argv)
    graph = edges()
    if not args.check:
        dom = domain_edges(graph)
        print("domain → domains it imports (files importing it); foundations left out:")
        for source in sorted(dom):
            targets = ", ".join(f"{t} ({graph[(source, t)]})" for t in sorted(dom[source]))
            print(f"  {source:12} → {targets}")
        roots = sorted({a for (a, _b) in graph if a in ROOTS})
        for root in roots:
            used = sorted(b for (a, b) in graph if a == root and b not in FOUNDATIONS)
            print(f"  [root] {root:9} → {', '.join(used)}")
    problems = violations(graph)
    for line in problems:
        print("VIOLATION", line)
    if not problems:
        print("ok: no cycle between domains; the queue imports no domain")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
