"""The project's one paginator: ``limit``/``offset`` in, ``{<items>: [...], total_count, ...}`` out.

The guide's lists name their items (``articles``, ``notifications``, ``transactions``) and report
``total_count``; a view picks its key with ``results_key``.
"""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response


class LimitOffsetEnvelopePagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100
    results_key = "results"

    def paginate_queryset(self, queryset, request, view=None):  # type: ignore[override]
        self.results_key = getattr(view, "results_key", self.results_key)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: list[Any], **extra: Any) -> Response:
        return Response(
            {
                self.results_key: data,
                "total_count": self.count,
                "limit": self.limit,
                "offset": self.offset,
                "has_more": self.offset + len(data) < self.count,
                **extra,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": [self.results_key, "total_count", "limit", "offset", "has_more"],
            "properties": {
                self.results_key: schema,
                "total_count": {"type": "integer", "example": 25},
                "limit": {"type": "integer", "example": self.default_limit},
                "offset": {"type": "integer", "example": 0},
                "has_more": {"type": "boolean"},
            },
        }


def paginator_for(results_key: str) -> type[LimitOffsetEnvelopePagination]:
    """A paginator class whose schema names the view's items key (drf-spectacular reads the class)."""
    return type(f"{results_key.title()}Pagination", (LimitOffsetEnvelopePagination,), {"results_key": results_key})
