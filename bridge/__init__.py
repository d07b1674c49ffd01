"""rigbridge: F1 game UDP telemetry to MQTT, Prometheus, Home Assistant and LED shift lights."""

__version__ = "0.1.0"
