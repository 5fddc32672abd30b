"""The configuration: one YAML file, one typed schema with a default and a description per field.

``load_config`` turns every problem into one line that names its field path and what is wrong
(``readers[0].port: expected a TCP port 1-65535, got 'abc'``), so ``dockgate check-config`` and
``dockgate run`` show all of them at once, type errors and cross-references together.

- ``schema``: the sections and ``Config``; readers' settings come from the driver registry.
- ``locations``: read points, tag filters, EPCIS settings (``epcis_fields`` checks the EPCIS values).
- ``references``: the checks that span sections (unknown names, antennas, owners).
- ``messages``: pydantic's errors as lines; ``loader``: the file to a ``Config``.
"""

from __future__ import annotations

from gateway.config.loader import load_config, parse_config
from gateway.config.locations import (
    EpcisSettings,
    EpcisStepSettings,
    FilterSettings,
    LocationSettings,
    ReadPointSettings,
)
from gateway.config.schema import (
    Config,
    GatewaySettings,
    Gs1Settings,
    LoggingSettings,
    MetricsSettings,
    MqttSettings,
    MqttTlsSettings,
    OutboxSettings,
    PipelineSettings,
    ReaderSettings,
    TopicSettings,
)
from gateway.config.service import ApiSettings, ApiToken, ShipmentSettings

__all__ = [
    "ApiSettings",
    "ApiToken",
    "Config",
    "EpcisSettings",
    "EpcisStepSettings",
    "FilterSettings",
    "GatewaySettings",
    "Gs1Settings",
    "LocationSettings",
    "LoggingSettings",
    "MetricsSettings",
    "MqttSettings",
    "MqttTlsSettings",
    "OutboxSettings",
    "PipelineSettings",
    "ReadPointSettings",
    "ReaderSettings",
    "ShipmentSettings",
    "TopicSettings",
    "load_config",
    "parse_config",
]
