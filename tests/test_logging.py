from __future__ import annotations

import logging


def test_tokens_in_websocket_urls_never_reach_the_log(caplog):
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="uvicorn.error"):
            logger.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5", "/ws/notifications/?token=eyJhbGc.secret.sig")
    finally:
        logger.removeHandler(caplog.handler)
    assert "eyJhbGc" not in caplog.text
    assert "token=[redacted]" in caplog.text
