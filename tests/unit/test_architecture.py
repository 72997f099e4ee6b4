"""The house's rules, read from the source: no import edge runs upward, Qt only through its shim,
no SQL in the engine, no import circles. Each rule names the file and the import that broke it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "maxsight_app", "training")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, top_level_only: bool = False) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file; relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    nodes = tree.body if top_level_only else ast.walk(tree)
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]   # "from pkg import module"
    return out


def _files(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py"))


def _starts(mod: str, prefixes) -> bool:
    return any(mod == p or mod.startswith(p + ".") for p in prefixes)


# (files it applies to, forbidden import prefixes, allowed exceptions, why)
RULES = [
    (("engine",), ("maxsight_app", "training", "PySide6"), (), "the engine imports nothing above it"),
    (("engine",), ("sqlite3", "sqlite_utils"), (), "the engine (Stage B included) never reads the profile database"),
    (("training",), ("maxsight_app", "PySide6"), (), "training imports the engine, never the app"),
    (("maxsight_app.profile",), ("maxsight_app.outputs", "maxsight_app.cues", "maxsight_app.ui", "maxsight_app.session",
                                 "maxsight_app.compose", "maxsight_app.commands", "maxsight_app.capture",
                                 "maxsight_app.personal_objects", "engine.models", "engine.stage_b", "onnxruntime"), (),
     "the profile layer stores data: no outputs, policy, models or window"),
    (("maxsight_app.outputs",), ("engine.stage_a", "engine.stage_b", "engine.models", "engine.pipeline", "maxsight_app.ui",
                                 "maxsight_app.session", "maxsight_app.compose"), (),
     "outputs render cues; they need no engine internals (cues carry their clock)"),
    (("maxsight_app.cues",), ("engine.stage_b", "engine.models", "engine.pipeline", "maxsight_app.outputs", "maxsight_app.ui",
                              "maxsight_app.session", "maxsight_app.compose", "maxsight_app.profile.store"), (),
     "the cue policy is pure: it reads results and the profile, nothing else"),
    (("engine", "training", "maxsight_app"), ("maxsight_app.ui",), ("maxsight_app.ui", "maxsight_app.commands.app"),
     "only the window's own package and the app entry import the UI"),
    (("engine", "training", "maxsight_app"), ("PySide6",), ("maxsight_app.ui.qt",), "Qt is imported through maxsight_app/ui/qt.py only"),
    (("engine", "training", "maxsight_app"), ("maxsight_app.commands",), ("maxsight_app.commands", "maxsight_app.cli"),
     "commands are the top of the house: nothing imports them but the CLI"),
]


def _violations():
    found = []
    for package in PACKAGES:
        for path in _files(package):
            me = _module_name(path)
            for line, mod in _imports(path):
                for scopes, forbidden, allowed, why in RULES:
                    if not _starts(me, scopes) or _starts(me, allowed):
                        continue
                    if _starts(mod, forbidden) and not _starts(mod, (me,)):
                        found.append(f"{path.relative_to(ROOT)}:{line} imports {mod} ({why})")
    return sorted(set(found))


def test_no_import_runs_upward():
    assert _violations() == []


def test_the_rules_catch_an_upward_edge(tmp_path, monkeypatch):
    """The checker itself: a file in engine/ that imports the app is reported with its line."""
    bad = ROOT / "engine" / "_layer_probe_tmp.py"
    bad.write_text("import os\nfrom maxsight_app.session import Session\n")
    try:
        assert any("engine/_layer_probe_tmp.py:2 imports maxsight_app.session" in v for v in _violations())
    finally:
        bad.unlink()


def _graph(package: str) -> dict[str, list[str]]:
    """module -> the package's modules it names in an import, anywhere in the file (inside
    functions too) and from every file, __init__.py included. `from a.b import c` is an edge to
    a.b and to a.b.c when that is a module; the parent packages Python runs first are not edges
    (every submodule would otherwise "import" the __init__ that imports it)."""
    mods = {_module_name(p): p for p in _files(package)}
    return {m: sorted({imp for _, imp in _imports(p) if imp in mods and imp != m}) for m, p in mods.items()}


def test_a_circle_through_an_init_file_is_seen():
    """The checker itself: an __init__.py whose function imports a module that imports the
    package back (registry <-> detectors, before it was broken) is a circle."""
    import shutil
    probe = ROOT / "engine" / "_circle_probe_tmp"
    probe.mkdir()
    try:
        (probe / "__init__.py").write_text("def build():\n    from engine._circle_probe_tmp import catalogue\n    return catalogue\n")
        (probe / "catalogue.py").write_text("from engine._circle_probe_tmp import build\n")
        (probe / "leaf.py").write_text("import os\n")
        assert ["engine._circle_probe_tmp", "engine._circle_probe_tmp.catalogue", "engine._circle_probe_tmp"] in _cycles("engine")
        assert not any("engine._circle_probe_tmp.leaf" in c for c in _cycles("engine"))   # a sibling is no circle
    finally:
        shutil.rmtree(probe)


def _cycles(package: str) -> list[list[str]]:
    """Import circles between a package's modules, counting imports inside functions too: a
    function-level import that closes a circle only hides it until that function runs."""
    graph = _graph(package)
    cycles, state = [], {}

    def visit(m, stack):
        state[m] = 1
        stack.append(m)
        for n in graph[m]:
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, stack)
        stack.pop()
        state[m] = 2
    for m in graph:
        if m not in state:
            visit(m, [])
    return cycles


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circles(package):
    assert _cycles(package) == []


WINDOW_HELPERS = ("maxsight_app/ui/find_mode.py", "maxsight_app/ui/document_mode.py", "maxsight_app/ui/help.py",
                  "maxsight_app/ui/first_run.py")


def _is_window(node: ast.AST) -> bool:
    """`window` or `self.window`."""
    return ((isinstance(node, ast.Name) and node.id == "window")
            or (isinstance(node, ast.Attribute) and node.attr == "window" and isinstance(node.value, ast.Name)))


def _window_reaches(path: Path) -> list[str]:
    """Where a helper reaches into the main window: an attribute of `window` or `self.window`, a
    getattr/setattr on it, or an import of the window's module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_window(node.value):
            bad.append(f"{path.name}:{node.lineno} window.{node.attr}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr")
              and node.args and _is_window(node.args[0])):
            bad.append(f"{path.name}:{node.lineno} {node.func.id}(window, ...)")
    if path.is_relative_to(ROOT):
        bad += [f"{path.name}:{line} imports {mod}" for line, mod in _imports(path) if mod == "maxsight_app.ui.main_window"]
    return bad


@pytest.mark.parametrize("helper", WINDOW_HELPERS)
def test_window_helpers_talk_through_the_port_only(helper):
    # find mode, document mode and Help use the window through ui/window_port.py alone
    assert _window_reaches(ROOT / helper) == []


def test_the_port_rule_sees_a_reach(tmp_path):
    bad = tmp_path / "helper.py"
    bad.write_text("def f(window):\n    window._say('x')\n    return getattr(window, 'worker', None)\n\n"
                   "class C:\n    def g(self):\n        self.window.status.show_message('x')\n")
    assert len(_window_reaches(bad)) == 3


def test_the_window_reads_stage_b_only_from_the_frame_result():
    # issue 25: FrameResult is the one channel from the engine; the UI never reads the scheduler's
    # own state (its specs, or its status: problems, disabled tasks)
    import re
    reach = re.compile(r"\.specs\b|\bstatus\.(disabled|problems|restarts)\b|stage_b\.status\b")
    bad = [f"{p.name}:{i}: {line.strip()}" for p in sorted((ROOT / "maxsight_app" / "ui").glob("*.py"))
           for i, line in enumerate(p.read_text().splitlines(), 1) if reach.search(line)]
    assert bad == []
