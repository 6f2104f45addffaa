"""Every real data file copied into ``cassettes/`` has its provenance line, and each line's
size and checksum are the file's: nothing is added or edited without saying so."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.conftest import CASSETTES, RECORDINGS

ROW = re.compile(r"^\| `(?P<path>[^`]+)` \| (?P<bytes>\d+) \| (?P<sha>[0-9a-f]{16}) \|", re.MULTILINE)
COPIED = {CASSETTES: ("ccxt_static", "llm/bodies"), RECORDINGS: (".",)}
"""Folders holding third-party files byte for byte (the rest of cassettes/ our tools record)."""


@pytest.mark.parametrize("root", list(COPIED), ids=lambda p: p.name)
def test_every_copied_file_has_a_matching_provenance_line(root):
    rows = {m["path"]: (int(m["bytes"]), m["sha"]) for m in ROW.finditer((root / "PROVENANCE.md").read_text())}
    files = (p for folder in COPIED[root] for p in (root / folder).rglob("*") if p.is_file() and p.name != "PROVENANCE.md")
    copied = sorted(str(p.relative_to(root)) for p in files)
    assert copied and sorted(rows) == copied
    for path, (size, sha) in rows.items():
        data = (root / path).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()[:16]) == (size, sha), path
