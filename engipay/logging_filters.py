"""Log filters."""

from __future__ import annotations

import logging
import re

_TOKEN_IN_URL = re.compile(r"((?:[?&])(?:token|access_token|refresh)=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """Hide ``?token=...`` values (websocket URLs) before a line reaches any log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _TOKEN_IN_URL.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
