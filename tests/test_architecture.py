"""docs/ARCHITECTURE.md's import rules hold: no package imports one its row does not name.

The table "Who may import whom" is read from the document itself, so the document and
the code cannot drift apart: a new import of ours is either allowed there or fails here.
Every import counts, at module level or inside a function (a lazy import is still a
dependency), ``TYPE_CHECKING`` ones too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ARCHITECTURE.md"


def _rules() -> dict[str, set[str]]:
    """``{package: packages it may import}`` from the document's table."""
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Who may import whom", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in table.splitlines() if re.match(r"\|\s*`", line)]
    packages = {re.sub(r"[`\s]", "", name) for name, _ in rows}
    rules = {}
    for name, allowed in rows:
        name = re.sub(r"[`\s]", "", name)
        if allowed.strip() == "all":
            rules[name] = packages - {name}
        else:
            rules[name] = set(re.findall(r"`([\w.]+)`", allowed)) & packages
    return rules


def _owner(module: str, packages: set[str]) -> str | None:
    """The package a dotted module name belongs to: the longest package it is inside."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in packages:
            return ".".join(parts[:i])
    return None


def _imports(path: Path, module: str) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    found = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            # `from souschef import corpus` imports souschef.corpus, not the shells beside it
            found.update(f"{name}.{a.name}" for a in node.names)
    return found


def _edges() -> dict[tuple[str, str], list[str]]:
    """``{(importer, imported): [files]}`` between different packages of ours."""
    packages = set(_rules())
    edges: dict[tuple[str, str], list[str]] = {}
    for top in {p.split(".")[0] for p in packages}:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            owner = _owner(module, packages)
            for name in _imports(path, module):
                imported = _owner(name, packages)
                if imported and owner and imported != owner:
                    edges.setdefault((owner, imported), []).append(str(path.relative_to(ROOT)))
    return edges


def test_the_architecture_document_names_every_installed_package():
    rules = _rules()
    tops = {p.split(".")[0] for p in rules}
    assert {"recipe_schema", "postprocess", "generation", "evaluation", "souschef"} <= tops
    assert all((ROOT / p.replace(".", "/") / "__init__.py").is_file() for p in rules), rules


def test_no_package_imports_one_the_architecture_does_not_allow():
    rules = _rules()
    wrong = [f"{a} imports {b} ({', '.join(sorted(set(files)))})"
             for (a, b), files in sorted(_edges().items()) if b not in rules[a]]
    assert not wrong, "\n".join(wrong)


def test_the_packages_import_each_other_without_a_cycle():
    graph: dict[str, set[str]] = {}
    for a, b in _edges():
        graph.setdefault(a, set()).add(b)
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, "import cycle: " + " -> ".join(path + (node,))
        if node in done:
            return
        for nxt in graph.get(node, ()):
            visit(nxt, path + (node,))
        done.add(node)

    for node in list(graph):
        visit(node, ())


def test_the_check_sees_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from evaluation.suite import run_suite\n", encoding="utf-8")
    rules = _rules()
    owners = {_owner(name, set(rules)) for name in _imports(bad, "postprocess.bad")}
    assert owners == {"evaluation"} and "evaluation" not in rules["postprocess"]
