"""The status display's choices and its warnings pane."""

from __future__ import annotations

import logging

from ccxt_mm.app.status_screen import WARNINGS_SHOWN, WarningPane, display_for


def test_the_screen_only_on_a_terminal_without_json_logs():
    assert display_for(no_status=False, json_logs=False, terminal=True) == "screen"
    assert display_for(no_status=False, json_logs=True, terminal=True) == "lines"
    assert display_for(no_status=False, json_logs=False, terminal=False) == "lines"
    assert display_for(no_status=True, json_logs=False, terminal=True) == "none"


def test_the_pane_keeps_the_latest_warnings_with_secrets_masked():
    pane = WarningPane(["sekret-key-123"])
    logger = logging.getLogger("ccxt_mm.test_pane")
    logger.addHandler(pane)
    try:
        logger.info("an info line is not a warning")
        for i in range(WARNINGS_SHOWN + 3):
            logger.warning("request %d with key %s refused", i, "sekret-key-123")
    finally:
        logger.removeHandler(pane)
    assert len(pane.lines) == WARNINGS_SHOWN
    assert pane.lines[-1].endswith(f"warning: request {WARNINGS_SHOWN + 2} with key *** refused")
    assert not any("sekret" in line or "info line" in line for line in pane.lines)
