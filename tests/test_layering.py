"""Dependencies point inward: the core imports no adapter, analysis does no network."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ADAPTERS = {"ml_backend", "sync", "serve"}
NETWORK = {"httpx", "requests", "boto3", "botocore", "label_studio_sdk", "qdrant_client", "socket"}


def _imports(package: str) -> list[tuple[Path, str]]:
    found = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found += [(path, a.name.split(".")[0]) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("winnow", ADAPTERS | {"analysis"}),
        ("analysis", ADAPTERS | NETWORK),
    ],
)
def test_dependencies_point_inward(package: str, forbidden: set[str]) -> None:
    imports = _imports(package)
    assert imports, f"no imports parsed under {package}"
    bad = [(str(p.relative_to(ROOT)), m) for p, m in imports if m in forbidden]
    assert bad == []
