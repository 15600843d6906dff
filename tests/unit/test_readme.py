"""The README's contents list names every section, so a reader finds what a new one covers."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def test_the_contents_list_every_section_and_every_link_has_its_section():
    text = README.read_text(encoding="utf-8")
    sections = [h for h in re.findall(r"^## (.+)$", text, flags=re.MULTILINE) if h != "Contents"]
    contents = text.split("## Contents", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^- \[(.+?)\]\(#([^)]+)\)$", contents, flags=re.MULTILINE)
    assert [title for title, _ in listed] == sections
    for title, anchor in listed:
        assert anchor == re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
