"""The prediction value and the strict parser of a model's reply (pure, no I/O).

A reply must be one JSON object (a fenced code block around it is tolerated, nothing else):
``{"predictions": {"BTC/USDT": {"direction": 0.2, "confidence": 0.6, "volatility": "low"}}}``.
Each symbol's entry is validated on its own, so one bad entry discards only that symbol;
anything else (prose, extra keys, strings where numbers belong, out-of-range values, a
symbol nobody asked for) is a rejection with its reason, never a prediction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ccxt_mm.quoting.spread import VolRegime

_FENCE = re.compile(r"\A```(?:json)?[ \t]*\n(?P<body>.*?)\n?```\Z", re.DOTALL)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    direction: Annotated[float, Field(ge=-1.0, le=1.0)]
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]
    volatility: Literal["low", "medium", "high", "extreme"]


@dataclass(frozen=True, slots=True)
class ParsedReply:
    predictions: dict[str, tuple[float, float, VolRegime]]
    """Symbol → (direction, confidence, volatility) for every valid entry."""
    rejected: dict[str, str]
    """Symbol (or ``reply`` for the whole content) → why it was discarded."""


def _error_text(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def parse_reply(content: str | None, symbols: list[str]) -> ParsedReply:
    """Validate a reply's message content against the ``symbols`` that were asked for."""
    if not content or not content.strip():
        return ParsedReply({}, {"reply": "empty content"})
    text = content.strip()
    if text.startswith("```"):
        fenced = _FENCE.match(text)
        if fenced is None:
            return ParsedReply({}, {"reply": "unterminated or decorated code fence"})
        text = fenced.group("body").strip()
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return ParsedReply({}, {"reply": f"not a JSON object: {exc}"})
    if not isinstance(doc, dict) or set(doc) != {"predictions"} or not isinstance(doc["predictions"], dict):
        return ParsedReply({}, {"reply": 'expected exactly {"predictions": {symbol: {...}}}'})
    entries: dict = doc["predictions"]
    good: dict[str, tuple[float, float, VolRegime]] = {}
    rejected: dict[str, str] = {}
    for symbol, entry in entries.items():
        if symbol not in symbols:
            rejected[str(symbol)[:40]] = "symbol not asked for"
            continue
        try:
            e = _Entry.model_validate(entry)
        except ValidationError as exc:
            rejected[symbol] = _error_text(exc)
            continue
        good[symbol] = (float(e.direction), float(e.confidence), VolRegime(e.volatility))
    for symbol in symbols:
        if symbol not in good and symbol not in rejected:
            rejected[symbol] = "missing from the reply"
    return ParsedReply(good, rejected)
