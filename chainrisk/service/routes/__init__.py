"""The service's endpoints, one router per group, in the order they appear in the OpenAPI document."""

from __future__ import annotations

from . import addresses, admin, cases, graph, health, monitoring, runs, screen, ui

ROUTERS = (health.router, addresses.router, screen.router, graph.router, runs.router, admin.router, cases.router,
           monitoring.router, ui.router)
