"""Gran Turismo 7: Salsa20-encrypted packets, the heartbeat that keeps them coming, decoder and synthetic race."""
