"""X-Debug-Counts: what a request cost, in the response's extensions (outside production).

The counts are the request's own (telemetry/metrics.RequestCounts, started by
web/request_scope.py); the view asks for them with the header and says so in the Context.
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions import SchemaExtension

from telemetry.metrics import RequestCounts


class DebugCounts(SchemaExtension):
    """With X-Debug-Counts outside production, the response's extensions carry the counts."""

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        if not getattr(context, "debug_counts", False):
            return {}
        counts: RequestCounts = context.counts
        return {"counts": {"sql": counts.sql, "redis": counts.redis}}
