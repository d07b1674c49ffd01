"""Readers of the session state: the field catalogue and what is generated from it (MQTT, metrics, HA, LEDs)."""
