# Copyright (c) 2026, Humanitec Platform collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/troubleshooting.md explains every message the plugins can fail or warn with.

The messages are read from the plugins' code: the text of each `fail_json(msg=...)`, `warn()`,
`fail()` and `problems.append()`, of each HumanitecApiError's message, of the transport
errors, status hints and action names. Each literal piece of them must appear in the page, so
a new message cannot ship undocumented.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGINS = sorted((REPO / "plugins").glob("module*/*.py"))
PAGE = REPO / "docs" / "troubleshooting.md"
MESSAGE_CALLS = {"fail_json", "warn", "fail"}
# Functions and assignments whose strings are parts of messages.
MESSAGE_FUNCTIONS = {"_describe_transport_error"}
MESSAGE_NAMES = {"STATUS_HINTS", "SHAPE_NAMES", "action"}
# Pieces that carry no meaning of their own.
MIN_WORDS = 2


def literal_pieces(node: ast.AST | None) -> list[str]:
    """The literal text of a string expression: constants, f-string parts, concatenations."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [part.value for part in node.values if isinstance(part, ast.Constant)]
    if isinstance(node, ast.BinOp):
        return literal_pieces(node.left) + literal_pieces(node.right)
    if isinstance(node, ast.Dict):
        return [piece for value in node.values for piece in literal_pieces(value)]
    return []


def message_expressions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            owner = getattr(getattr(node.func, "value", None), "id", "")
            if name in MESSAGE_CALLS or (name == "append" and owner == "problems"):
                yield from node.args[:1]
                yield from (kw.value for kw in node.keywords if kw.arg == "msg")
            if name == "HumanitecApiError" and len(node.args) == 4:
                yield node.args[3]
        elif isinstance(node, ast.FunctionDef) and node.name in MESSAGE_FUNCTIONS:
            yield from (sub.value for sub in ast.walk(node) if isinstance(sub, ast.Return))
        elif isinstance(node, ast.Assign):
            names = {getattr(target, "attr", getattr(target, "id", "")) for target in node.targets}
            if names & MESSAGE_NAMES:
                yield node.value


def normalised(text: str) -> str:
    return " ".join(text.split())


def message_pieces() -> list[tuple[str, str]]:
    pieces = set()
    for path in PLUGINS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for expression in message_expressions(tree):
            for piece in literal_pieces(expression):
                piece = normalised(piece.strip(" \"'.;:,(){}"))
                if len(piece.split()) >= MIN_WORDS:
                    pieces.add((path.name, piece))
    return sorted(pieces)


def test_messages_are_found():
    """The extraction itself works: known messages are among the pieces."""
    pieces = {piece for _source, piece in message_pieces()}
    assert "cannot be deleted" in " ".join(pieces)
    assert "connection refused" in pieces
    assert any(piece.startswith("Could not compare the credentials") for piece in pieces)
    assert len(pieces) > 20


@pytest.mark.parametrize(("source", "piece"), message_pieces(), ids=lambda value: value)
def test_message_is_explained(source: str, piece: str):
    page = normalised(PAGE.read_text(encoding="utf-8"))
    assert piece in page, f"{source}: {piece!r} is not explained in {PAGE.name}"
