"""Codemasters rally games (DiRT Rally, DiRT Rally 2.0, DiRT 4, WRC Generations): the "extradata 3" packet."""
