"""OutGauge, the dashboard packet of Live for Speed and BeamNG.drive."""
