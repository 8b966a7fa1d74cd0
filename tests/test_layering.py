"""The shape of the code, enforced: dependencies point inward, adapters never import each
other, analysis does no network, and no module reaches into another module's private names."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("winnow", "analysis", "ml_backend", "sync", "serve")
ADAPTERS = {"ml_backend", "sync", "serve"}
NETWORK = {"httpx", "requests", "boto3", "botocore", "label_studio_sdk", "qdrant_client", "socket"}
# Names of the standard library's own protocols that happen to start with an underscore.
PUBLIC_BY_CONVENTION = {"_asdict", "_replace", "_fields", "_make"}


def _modules(package: str, root: Path = ROOT) -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text())) for p in sorted((root / package).rglob("*.py"))]


def _imports(tree: ast.Module) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _violations(package: str, forbidden: set[str], root: Path = ROOT) -> list[str]:
    return [
        f"{path.relative_to(root)}:{line} imports {module}"
        for path, tree in _modules(package, root)
        for line, module in _imports(tree)
        if module.split(".")[0] in forbidden
    ]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("winnow", ADAPTERS | {"analysis"}),
        ("analysis", ADAPTERS | NETWORK),
        ("ml_backend", ADAPTERS - {"ml_backend"}),
        ("sync", ADAPTERS - {"sync"}),
        ("serve", ADAPTERS - {"serve"}),
    ],
)
def test_dependencies_point_inward(package: str, forbidden: set[str]) -> None:
    assert _modules(package), f"no modules parsed under {package}"
    assert _violations(package, forbidden) == []


def _private_uses(path: Path, tree: ast.Module) -> list[str]:
    """``from m import _x`` from any module, and ``obj._x`` where this module defines no
    ``_x`` (so it belongs to someone else). ``self._x``/``cls._x`` are the class's own."""
    defined = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
    where = path.relative_to(ROOT)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            found += [
                f"{where}:{node.lineno} imports {node.module}.{a.name}"
                for a in node.names
                if _private(a.name)
            ]
        elif (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and node.attr not in defined
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.append(f"{where}:{node.lineno} uses {ast.unparse(node)}")
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in PUBLIC_BY_CONVENTION


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_uses_another_modules_private_names(package: str) -> None:
    found = [v for path, tree in _modules(package) for v in _private_uses(path, tree)]
    assert found == []


def test_the_private_name_check_catches_both_forms() -> None:
    """The rule above would pass vacuously if the walker missed these shapes."""
    tree = ast.parse("from a.b import _hidden\nimport c\nc._inner()\nself._own = 1\n")
    found = _private_uses(ROOT / "x.py", tree)
    assert found == ["x.py:1 imports a.b._hidden", "x.py:3 uses c._inner"]


def test_the_adapter_rule_catches_cross_imports(tmp_path: Path) -> None:
    (tmp_path / "sync").mkdir()
    (tmp_path / "sync" / "job.py").write_text(
        "import os\nfrom ml_backend.service import PredictionService\n"
        "def later():\n    import serve.app\n"
    )
    assert _violations("sync", ADAPTERS - {"sync"}, tmp_path) == [
        "sync/job.py:2 imports ml_backend.service",
        "sync/job.py:4 imports serve.app",
    ]
