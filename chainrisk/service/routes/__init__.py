"""The service's endpoints, one router per group, in the order they appear in the OpenAPI document."""

from __future__ import annotations

from . import addresses, admin, health, monitoring, runs, screen

ROUTERS = (health.router, addresses.router, screen.router, runs.router, admin.router, monitoring.router)
