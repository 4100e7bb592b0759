"""Projects, device groups, devices and join requests: models, SQL and their service layer."""

from api_gateway.fleet.service import FleetService, JoinRequestFilter

__all__ = ["FleetService", "JoinRequestFilter"]
