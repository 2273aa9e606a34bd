"""The custody manifest's layout: pretty JSON with one line per exported file.

Everything but the file list is ordinary indented JSON; the ``files`` array
comes last with one compact entry per line, so the manifest of millions of
files is written and read back as a stream, and stays valid JSON for any tool.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from exporters.file_index import FileEntry

_FILES_OPEN = '  "files": ['


def write_manifest_file(path: Path, header: dict[str, Any], files: Iterable[FileEntry]) -> None:
    """Write ``header`` plus the files (atomically: to a temporary name, then renamed)."""
    partial = path.with_name(path.name + ".part")
    head = json.dumps(header, indent=2, ensure_ascii=False)
    with partial.open("w", encoding="utf-8") as handle:
        handle.write(head[: head.rfind("}")].rstrip())
        handle.write(",\n" + _FILES_OPEN)
        separator = "\n"
        for entry in files:
            line = json.dumps({"path": entry.path, "sha256": entry.sha256, "size": entry.size})
            handle.write(separator + "    " + line)
            separator = ",\n"
        handle.write("\n  ]\n}\n")
    partial.replace(path)


def read_manifest_header(path: Path) -> dict[str, Any]:
    """Everything in the manifest but the file list (raises ValueError if it is not one)."""
    lines = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.rstrip("\n") == _FILES_OPEN:
                break
            lines.append(line)
        else:
            raise ValueError("no file list")
    value = json.loads("".join(lines).rstrip().rstrip(",") + "\n}")
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def iter_manifest_files(path: Path) -> Iterator[FileEntry]:
    """The manifest's file entries, one line at a time."""
    with path.open(encoding="utf-8") as handle:
        inside = False
        for line in handle:
            text = line.strip()
            if not inside:
                inside = line.rstrip("\n") == _FILES_OPEN
                continue
            if text in ("]", "}", ""):
                continue
            value = json.loads(text.rstrip(","))
            yield FileEntry(str(value["path"]), str(value["sha256"]), int(value["size"]))
