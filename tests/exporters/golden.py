"""Golden files: an export's every byte compared with a reviewed copy in tests/exporters/golden/.

Set ``CHATKEEPER_UPDATE_GOLDEN=1`` to rewrite the copies after a deliberate
change, then review the diff before committing it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def assert_golden(produced: Path, name: str) -> None:
    """Every file under ``produced`` equals the golden copy ``tests/exporters/golden/<name>``."""
    expected_root = GOLDEN / name
    if os.environ.get("CHATKEEPER_UPDATE_GOLDEN") == "1":
        shutil.rmtree(expected_root, ignore_errors=True)
        shutil.copytree(produced, expected_root)
    actual = _files(produced)
    expected = _files(expected_root)
    assert sorted(actual) == sorted(expected)
    for path, data in expected.items():
        assert actual[path] == data, f"{name}/{path} differs from its golden copy"
