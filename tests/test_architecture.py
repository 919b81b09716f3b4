"""The package's folders are its layers: a module imports only from its own layer or below."""
import ast
from pathlib import Path

from conftest import ROOT

# Lowest first. Modules of one layer may import each other; none imports a higher layer.
LAYERS = [("config", "seeds", "machine", "stopping"), ("data",), ("models", "pruning"), ("presets",), ("training",), ("execution",),
          ("lottery",), ("ledger",), ("tickets",), ("analysis",), ("paper",), ("cli",), ("figures",), ("api",)]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tf_lottery."):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("tf_lottery.")]
    return found


def layer(module: str) -> str:
    return module.split(".")[1]


def test_no_module_imports_from_a_higher_layer():
    upward = []
    for path in sorted((ROOT / "tf_lottery").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if module == "tf_lottery":
            continue
        assert layer(module) in RANK, f"{module}: add its folder to LAYERS"
        upward += [f"{module} -> {other}" for other in imports(path) if RANK[layer(other)] > RANK[layer(module)]]
    assert upward == []


def test_no_import_cycles_between_modules():
    graph = {}
    for path in sorted((ROOT / "tf_lottery").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        graph[module] = {m for m in imports(path) if m != module}
    state = {}

    def visit(module, trail):
        if state.get(module) == "open":
            raise AssertionError(" -> ".join(trail[trail.index(module):] + [module]))
        if state.get(module) == "done" or module not in graph:
            return
        state[module] = "open"
        for other in sorted(graph[module]):
            visit(other, trail + [module])
        state[module] = "done"

    for module in graph:
        visit(module, [])
