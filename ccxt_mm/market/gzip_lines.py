"""Line-by-line reading of gzip text captures, with errors that name the file and line."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

from ccxt_mm.errors import DataError


def read_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line number, raw line)``; a truncated or corrupt gzip is a DataError."""
    line_no = 0
    try:
        with gzip.open(path, "rb") as fh:
            for line_no, raw in enumerate(fh, 1):
                yield line_no, raw
    except gzip.BadGzipFile as exc:
        reason = "not a gzip file (captures are gzip-compressed text)" if line_no == 0 else f"corrupt gzip ({exc})"
        raise DataError(path, line_no + 1, reason) from exc
    except (EOFError, zlib.error) as exc:
        raise DataError(path, line_no + 1, f"truncated or corrupt gzip ({exc})") from exc
    except OSError as exc:
        raise DataError(path, line_no, f"cannot read file ({exc})") from exc
