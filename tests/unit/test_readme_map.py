"""The README's map ("How it fits together") names the tree as it is: every top-level folder,
every room (subpackage) of ``consumers/`` and ``infra/``, and every module at the top of
``infra/``; and nothing it names is missing from the tree."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _map() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## How it fits together", 1)[1]
    return section.split("```", 2)[1]


def _block(name: str) -> str:
    """The lines of one top-level entry of the map: from ``name/`` to the next top-level entry."""
    lines = _map().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{name}/"))
    end = next((i for i in range(start + 1, len(lines))
                if re.match(r"^[a-z]", lines[i])), len(lines))
    return "\n".join(lines[start:end])


def _tracked_top_level() -> set[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    return {path.split("/", 1)[0] for path in out if "/" in path and not path.startswith(".")}


def _rooms(package: str) -> set[str]:
    return {p.name for p in (ROOT / package).iterdir()
            if p.is_dir() and (p / "__init__.py").exists()}


def _named_rooms(block: str) -> set[str]:
    return set(re.findall(r"^  ([a-z_]+)/", block, flags=re.MULTILINE))


def test_every_top_level_folder_is_in_the_map_and_every_one_named_exists() -> None:
    named = set(re.findall(r"^([a-z_]+)/", _map(), flags=re.MULTILINE))
    assert named == _tracked_top_level()


def test_the_rooms_of_consumers_and_infra_are_the_ones_in_the_tree() -> None:
    for package in ("consumers", "infra"):
        named = _named_rooms(_block(package))
        assert _rooms(package) - named == set(), f"{package}: rooms the map does not name"
        assert {name for name in named if not (ROOT / package / name).is_dir()} == set()


def test_every_module_and_file_at_the_top_of_infra_is_named() -> None:
    block = _block("infra")
    files = {p.name for p in (ROOT / "infra").iterdir()
             if p.is_file() and p.name != "__init__.py" and not p.name.startswith(".")}
    dirs = {p.name for p in (ROOT / "infra").iterdir() if p.is_dir() and p.name != "__pycache__"}
    missing = {name for name in files if not re.search(rf"(?<![\w./]){re.escape(name)}", block)}
    missing |= {name for name in dirs if f"{name}/" not in block}
    assert missing == set()
    for name in re.findall(r"(?<![\w.])([\w.]+\.(?:py|yaml))\b", block):
        assert (ROOT / "infra" / name).exists(), name
