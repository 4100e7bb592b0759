"""What every service process shares: typed settings, logging, metrics, health and shutdown."""

from iot_service.health import Health, HealthServer
from iot_service.logs import configure_logging
from iot_service.metrics import ServiceMetrics
from iot_service.runner import run_service
from iot_service.settings import DatabaseSettings, ServiceSettings, load_settings

__all__ = [
    "DatabaseSettings",
    "Health",
    "HealthServer",
    "ServiceMetrics",
    "ServiceSettings",
    "configure_logging",
    "load_settings",
    "run_service",
]
