"""The import rules of the house (docs/architecture.md), checked by a scan of the tree.

Every Python file of the installed packages is parsed (``ast``, so imports inside functions
count too) and each import is resolved to a module name. The rules:

- ``dure.rtl`` (hardware) imports only Amaranth, the standard library and ``dure.rtl``.
- Every module belongs to one layer; a layer imports only itself and the layers below it
  (``LAYERS`` lists them bottom up with what each may use).
- No cycle between packages (folders with an ``__init__.py``).
- Tests import modules by package name: no ``spec_from_file_location``, no ``sys.path`` edits.
- One module builds Verilator models.
"""

import ast
import pathlib
import sys
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

#: Layers bottom up: {layer: layers it may import (besides itself)}.
LAYERS = {
    "rtl": set(),
    "base": {"rtl"},
    "sim": {"base", "rtl"},
    "verif": {"sim", "base", "rtl"},
    "fpga": {"sim", "base", "rtl"},
    "compiler": {"sim", "base", "rtl"},
    "app": {"compiler", "fpga", "verif", "sim", "base", "rtl"},
}

#: The one module that builds Verilator models (verilator command line, cache, lock).
VERILATOR_SERVICE = "sim/verilator_build.py"
#: The service's own tests, which check the command lines it builds (they name its flags).
VERILATOR_SERVICE_TEST = "tests/sim/test_verilator_build.py"


def layer_of(module):
    """The layer of a ``dure`` module name, or ``None`` for a module outside the project."""
    parts = module.split(".")
    if parts[0] != "dure":
        return None
    if len(parts) == 1:
        return "base"          # the namespace package itself holds nothing but a docstring
    sub = parts[1]
    if sub == "rtl":
        return "rtl"
    if sub == "sim":
        return "verif" if len(parts) > 2 and parts[2] == "verif" else "sim"
    if sub == "fpga":
        return "fpga"
    if sub == "compiler":
        return "compiler"
    if sub in ("cli", "commands"):
        return "app"
    return "base"          # dure.config, dure.errors, dure.header, dure.memory_map, ...


def _package_dirs():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return {package: ROOT / folder for package, folder in setuptools["package-dir"].items()}


def project_modules():
    """{module name: (path, is_package)} for every file of the installed packages."""
    modules = {}
    for package, folder in _package_dirs().items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("").parts
            is_package = rel[-1] == "__init__"
            name = ".".join((package, *(rel[:-1] if is_package else rel)))
            modules[name] = (path, is_package)
    return modules


def imports_of(name, path, is_package):
    """(line, imported module name) of every import in a file, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            # `from pkg import sub` may name a submodule: count it as importing `pkg.sub`.
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def _resolve(module, known):
    """The longest prefix of ``module`` that is a project module (or ``module`` itself)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in known:
            return candidate
    return module


MODULES = project_modules()
EDGES = [(name, line, _resolve(target, MODULES))
         for name, (path, is_package) in sorted(MODULES.items())
         for line, target in imports_of(name, path, is_package)]


def _where(name, line):
    return f"{MODULES[name][0].relative_to(ROOT)}:{line}"


def test_rtl_imports_only_amaranth_and_rtl():
    allowed_roots = {"amaranth"} | set(sys.stdlib_module_names)
    bad = [f"{_where(name, line)} imports {target}"
           for name, line, target in EDGES if layer_of(name) == "rtl"
           and not (target.startswith("dure.rtl") or target.split(".")[0] in allowed_roots)]
    assert not bad, "rtl/ is hardware only (Amaranth and rtl/):\n" + "\n".join(bad)


def test_layers_point_down():
    bad = []
    for name, line, target in EDGES:
        src, dst = layer_of(name), layer_of(target)
        if dst is not None and dst != src and dst not in LAYERS[src]:
            bad.append(f"{_where(name, line)}: {src} imports {dst} ({target})")
    assert not bad, "imports against the layer order of docs/architecture.md:\n" + "\n".join(bad)


def _package(module):
    return module if MODULES.get(module, (None, False))[1] else module.rpartition(".")[0]


def test_no_package_cycles():
    graph = {}
    for name, _, target in EDGES:
        if target in MODULES:
            a, b = _package(name), _package(target)
            if a != b and not b.startswith(a + ".") and not a.startswith(b + "."):
                graph.setdefault(a, set()).add(b)
    # Depth-first search for a back edge; report the cycle it closes.
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("package cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_tests_import_by_package_name():
    bad = []
    for path in (ROOT / "tests").rglob("*.py"):
        for lineno, text in enumerate(path.read_text().splitlines(), 1):
            if "spec_from_file_location" in text or "sys.path.insert" in text \
                    or "sys.path.append" in text:
                if path.name != pathlib.Path(__file__).name:
                    bad.append(f"{path.relative_to(ROOT)}:{lineno}: {text.strip()}")
    assert not bad, "tests load modules by path:\n" + "\n".join(bad)


def test_one_module_builds_verilator_models():
    """Only the build service puts together a Verilator command line (its own tests read them)."""
    markers = ('"--cc"', "'--cc'", '"--exe"', "'--exe'", '"--binary"', "'--binary'")
    users = sorted(str(path.relative_to(ROOT)) for path in ROOT.rglob("*.py")
                   if not {".venv", "build"} & set(path.relative_to(ROOT).parts)
                   and path != pathlib.Path(__file__).resolve()
                   and any(marker in path.read_text() for marker in markers))
    users = [user for user in users if user != VERILATOR_SERVICE_TEST]
    assert users == [VERILATOR_SERVICE], f"Verilator command lines outside the service: {users}"
