"""An OpenAI-compatible ``POST /v1/chat/completions`` on 127.0.0.1, for tests, benchmarks and
cassette building.

Replies follow a script, then a fallback. A 200 is the real OpenAI ``chat.completion`` of
``cassettes/llm/bodies/`` with its message content replaced (by the script, or by a local
"model" that answers each market with the imbalance predictor's view of the features in the
prompt) and ``usage`` counted from the text (about four characters a token). Error replies
are the real error bodies of that folder.
"""

from __future__ import annotations

import asyncio
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from ccxt_mm.llm.predictor import ImbalancePredictor, MarketSnapshot

BODIES = Path(__file__).resolve().parents[3] / "cassettes" / "llm" / "bodies"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    content: str | None = None
    """A 200's message content (None: the local model answers)."""
    body: str = ""
    """The raw body (any status): a file name in ``cassettes/llm/bodies/`` or literal text;
    a 200 without one is the real chat.completion template."""
    headers: dict[str, str] = field(default_factory=dict)
    delay_secs: float = 0.0
    """Wait this long before answering (a slow or hanging server)."""


def model_answer(user_content: str, bounds: tuple[float, float, float] = (1.0, 2.0, 4.0)) -> str:
    """The local model: the imbalance predictor's view of every market in the prompt (a
    prompt without markets gets a sentence, as from any chat model)."""
    try:
        markets = json.loads(user_content)["markets"]
    except (ValueError, KeyError, TypeError):
        return "I can only predict the markets you send me as JSON."
    model = ImbalancePredictor(bounds)
    out = {}
    for name, f in markets.items():
        snap = MarketSnapshot(
            name,
            f["mid"],
            f["microprice_offset_bps"],
            f["spread_bps"],
            f["book_imbalance"],
            f["volatility_bps_per_sqrt_s"],
            f["trade_flow_imbalance"],
            f["our_inventory_fraction_of_limit"],
        )
        direction, confidence, regime = model.view(snap)
        out[name] = {"direction": round(direction, 4), "confidence": round(confidence, 4), "volatility": regime.value}
    return json.dumps({"predictions": out})


class LlmEmulator:
    def __init__(self, script: list[Reply] | None = None, fallback: Reply | None = None) -> None:
        self.script = list(script or [])
        self.fallback = fallback or Reply()
        self.requests: list[dict] = []
        """Every request body received, parsed."""
        self.authorizations: list[str] = []
        self._template = json.loads((BODIES / "openai_chat_completion_200.json").read_text())

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/chat/completions", self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.requests.append(payload)
        self.authorizations.append(request.headers.get("Authorization", ""))
        reply = self.script.pop(0) if self.script else self.fallback
        if reply.delay_secs:
            await asyncio.sleep(reply.delay_secs)
        if reply.status != 200 or reply.body:
            text = (BODIES / reply.body).read_text() if reply.body.endswith(".json") else reply.body
            return web.Response(status=reply.status, text=text, headers=reply.headers, content_type="application/json")
        content = reply.content if reply.content is not None else model_answer(payload["messages"][-1]["content"])
        doc = copy.deepcopy(self._template)
        doc["choices"][0]["message"]["content"] = content
        doc["model"] = payload.get("model", doc["model"])
        prompt = sum(len(m["content"]) for m in payload["messages"]) // 4
        completion = max(1, len(content) // 4)
        doc["usage"].update(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
        return web.json_response(doc, headers=reply.headers)
