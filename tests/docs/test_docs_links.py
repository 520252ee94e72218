# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Relative links in README.md and docs/*.md lead to files and headings that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1", re.M | re.S)
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def prose(document: Path) -> str:
    """The document without its code blocks, where link syntax means nothing."""
    return FENCE.sub("", document.read_text(encoding="utf-8"))


def anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces as dashes."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def anchors(document: Path) -> set[str]:
    return {anchor(heading) for heading in HEADING.findall(prose(document))}


def links() -> list[tuple[Path, str]]:
    found = []
    for document in DOCUMENTS:
        for target in LINK.findall(prose(document)):
            if not re.match(r"[a-z]+:", target):
                found.append((document, target))
    return found


@pytest.mark.parametrize(
    ("document", "target"),
    links(),
    ids=lambda value: value if isinstance(value, str) else value.name,
)
def test_link_resolves(document: Path, target: str):
    path, fragment = (target.split("#", 1) + [""])[:2]
    destination = (document.parent / path).resolve() if path else document
    assert destination.exists(), f"{document.name}: {target} does not exist"
    if fragment and destination.suffix == ".md":
        assert fragment in anchors(destination), f"{document.name}: no heading for {target}"


def test_every_page_is_in_the_index():
    index = (REPO / "docs" / "README.md").read_text(encoding="utf-8")
    for page in sorted((REPO / "docs").glob("*.md")):
        if page.name != "README.md":
            assert f"]({page.name})" in index, f"docs/README.md does not link {page.name}"
