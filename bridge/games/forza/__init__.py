"""Forza "Data Out" telemetry: Forza Motorsport 7, Forza Motorsport (2023), Forza Horizon 4 and 5."""
