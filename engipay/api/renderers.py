"""JSON out, with Decimals written as exact JSON numbers (DESIGN.md section 3: no float ever touches money).

DRF's own renderer turns a Decimal into a float on its way to JSON (``DecimalField(coerce_to_string=False)``),
which can print 0.1 + 0.2 artefacts and loses digits past ~15. simplejson writes the Decimal's own digits.
"""

from __future__ import annotations

import simplejson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder


class ExactJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        text = simplejson.dumps(
            data,
            use_decimal=True,
            default=JSONEncoder().default,
            ensure_ascii=self.ensure_ascii,
            allow_nan=not self.strict,
            separators=(",", ":"),
        )
        # Same escapes as DRF: keep the output a strict JavaScript subset.
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()
