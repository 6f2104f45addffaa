"""vcrpy cassettes of exchange traffic: matching that survives signatures, timestamps and
client ids, and scrubbing that keeps keys, secrets, passphrases and signatures out.

Matching is on method, host, path, query and body with the volatile fields removed
(``timestamp``, ``signature``, ``recvWindow`` and every client-order-id field), never on the
port, so a cassette recorded against a local emulator or a sandbox replays anywhere.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import vcr

from ccxt_mm.llm.cassette import MATCH_ON

VOLATILE = frozenset(
    {
        "timestamp",
        "signature",
        "recvWindow",
        "newClientOrderId",
        "origClientOrderId",
        "clientOrderId",
        "clOrdId",
        "orderLinkId",
        "tag",
    }
)
SECRET_HEADERS = re.compile(r"^(x-mbx-apikey|ok-access-.*|x-bapi-.*|authorization)$", re.IGNORECASE)
REDACTED = "REDACTED"


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in sorted(value.items()) if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _body(raw: bytes | str | None):
    if not raw:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    try:
        return _strip(json.loads(text))
    except ValueError:
        return sorted((k, v) for k, v in parse_qsl(text, keep_blank_values=True) if k not in VOLATILE)


def _query(uri: str) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in parse_qsl(urlsplit(uri).query, keep_blank_values=True) if k not in VOLATILE)


def match_query(r1, r2) -> None:
    assert _query(r1.uri) == _query(r2.uri), "query differs"


def match_body(r1, r2) -> None:
    assert _body(r1.body) == _body(r2.body), "body differs"


def scrub_request(request):
    """Redact credential headers; signed query strings and bodies lose their signature."""
    for name in list(request.headers):
        if SECRET_HEADERS.match(name):
            request.headers[name] = REDACTED
    parts = urlsplit(request.uri)
    if parts.query:
        query = "&".join(f"{k}={REDACTED if k == 'signature' else v}" for k, v in parse_qsl(parts.query, keep_blank_values=True))
        request.uri = parts._replace(query=query).geturl()
    if request.body:
        text = request.body.decode() if isinstance(request.body, bytes) else request.body
        request.body = re.sub(r"signature=[0-9a-fA-F]+", f"signature={REDACTED}", text).encode()
    return request


def make_response_scrubber(secrets: list[str]):
    """Replace every known secret value (bybit echoes the API key in a body) in responses;
    the body stays bytes."""

    def scrub_response(response):
        body = response["body"]["string"]
        raw = body if isinstance(body, bytes) else body.encode()
        for value in secrets:
            if value:
                raw = raw.replace(value.encode(), REDACTED.encode())
        response["body"]["string"] = raw
        response["headers"] = {k: v for k, v in response["headers"].items() if not SECRET_HEADERS.match(k)}
        return response

    return scrub_response


def cassette_vcr(directory: Path, record_mode: str = "none", secrets: list[str] | None = None) -> vcr.VCR:
    """A VCR for exchange cassettes in ``directory`` (``none``: replay only, as in CI)."""
    v = vcr.VCR(
        cassette_library_dir=str(directory),
        record_mode=record_mode,
        serializer="yaml",
        match_on=["method", "host", "path", "ccxt_query", "ccxt_body"],
        before_record_request=scrub_request,
        before_record_response=make_response_scrubber(secrets or []),
        decode_compressed_response=True,
    )
    v.register_matcher("ccxt_query", match_query)
    v.register_matcher("ccxt_body", match_body)
    return v


def llm_vcr(record_mode: str = "none", secrets: list[str] | None = None) -> vcr.VCR:
    """A VCR for chat-completion cassettes: matched on method, host and path only, so the
    recorded replies are served in order whatever the prompt; the Authorization header and
    every known secret are scrubbed before anything is written."""
    return vcr.VCR(
        record_mode=record_mode,
        serializer="yaml",
        match_on=list(MATCH_ON),
        before_record_request=scrub_request,
        before_record_response=make_response_scrubber(secrets or []),
        decode_compressed_response=True,
    )
