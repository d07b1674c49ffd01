"""The EA/Codemasters F1 game (formats 2023, 2024, 2025 and 2026)."""
