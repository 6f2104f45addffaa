"""Every real data file copied into ``cassettes/`` has its provenance line, and each line's
size and checksum are the file's: nothing is added or edited without saying so."""

from __future__ import annotations

import hashlib
import re

from tests.conftest import CASSETTES

ROW = re.compile(r"^\| `(?P<path>[^`]+)` \| (?P<bytes>\d+) \| (?P<sha>[0-9a-f]{16}) \|", re.MULTILINE)
COPIED = ("market", "ccxt_static", "llm/bodies")
"""Folders holding third-party files byte for byte (the rest are cassettes our tools record)."""


def test_every_copied_file_has_a_matching_provenance_line():
    rows = {m["path"]: (int(m["bytes"]), m["sha"]) for m in ROW.finditer((CASSETTES / "PROVENANCE.md").read_text())}
    copied = sorted(str(p.relative_to(CASSETTES)) for folder in COPIED for p in (CASSETTES / folder).rglob("*") if p.is_file())
    assert copied and sorted(rows) == copied
    for path, (size, sha) in rows.items():
        data = (CASSETTES / path).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()[:16]) == (size, sha), path
