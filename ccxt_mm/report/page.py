"""The report as one self-contained HTML page: the summary's figures with their units and the
plot embedded (no file beside it needed, no script, nothing fetched)."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
    "td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "img{max-width:100%}"
)


def write_html(path: Path, summary: dict[str, object], plot: Path | None) -> None:
    """Write the page: title and span, the plot (if any, embedded as a PNG data URI), and every
    figure of ``summary`` with its unit (nested figures as ``key.sub``)."""
    units = summary.get("units")
    units = units if isinstance(units, dict) else {}
    span = summary.get("span")
    when = f"{span['start_utc']} to {span['end_utc']} ({span['secs'] / 60:.1f} min)" if isinstance(span, dict) else ""
    rows = "".join(_row(key, value, str(units.get(key.split(".")[0], ""))) for key, value in _flat(summary))
    image = ""
    if plot is not None and plot.is_file():
        image = f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(plot.read_bytes()).decode()}">'
    title = html.escape(f"{summary.get('symbol', '')} {summary.get('strategy', '')}")
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{title}</h1><p>{html.escape(when)}</p>{image}"
        f"<table><tr><th>figure</th><th>value</th><th>unit</th></tr>{rows}</table></body></html>\n"
    )


def _flat(summary: dict[str, object], prefix: str = "") -> list[tuple[str, object]]:
    """Every figure of ``summary`` but the units, nested dicts flattened to ``key.sub``."""
    out: list[tuple[str, object]] = []
    for key in sorted(summary):
        value = summary[key]
        if key == "units" and not prefix:
            continue
        if isinstance(value, dict):
            out += _flat(value, f"{prefix}{key}.")
        else:
            out.append((prefix + key, value))
    return out


def _row(key: str, value: object, unit: str) -> str:
    if isinstance(value, float):
        text = "n/a" if not math.isfinite(value) else f"{value:,.6g}"
    elif isinstance(value, list):
        text = ", ".join(map(str, value)) or "none"
    else:
        text = str(value)
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return f"<tr><td>{html.escape(key)}</td><td{' class=n' if numeric else ''}>{html.escape(text)}</td><td>{html.escape(unit)}</td></tr>"
