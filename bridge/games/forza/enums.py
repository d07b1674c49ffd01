"""Forza enumerations: the numbers the game sends and what they mean.

Turn 10's documentation gives the fields but not every value; the class letters are those the games show
(Motorsport and Horizon use different ladders). A value not listed is shown as its number.
"""

from __future__ import annotations

DRIVETRAIN = {0: "FWD", 1: "RWD", 2: "AWD"}

# Forza Motorsport 7 and Forza Motorsport (2023).
MOTORSPORT_CAR_CLASS = {0: "D", 1: "C", 2: "B", 3: "A", 4: "S", 5: "R", 6: "P", 7: "X"}
# Forza Horizon 4 and 5.
HORIZON_CAR_CLASS = {0: "D", 1: "C", 2: "B", 3: "A", 4: "S1", 5: "S2", 6: "X"}

RACE_ON = {0: "menus", 1: "racing"}

# Gear as the game sends it: 0 is reverse, 1 and up are forward gears, 11 is neutral (Forza Motorsport (2023)
# sends it for the few frames of every gear change: seen in the real capture).
REVERSE_GEAR = 0
NEUTRAL_GEAR = 11


def car_class(variant_key: str, value: int) -> str:
    """The class letter for the game that sends this variant ("S1" in Horizon, "S" in Motorsport)."""
    table = HORIZON_CAR_CLASS if variant_key == "horizon" else MOTORSPORT_CAR_CLASS
    return table.get(value, str(value))


def drivetrain(value: int) -> str:
    return DRIVETRAIN.get(value, str(value))


def gear_name(value: int) -> str:
    """"R" for reverse, "N" for neutral, else the gear number (F1's naming)."""
    if value == REVERSE_GEAR:
        return "R"
    return "N" if value == NEUTRAL_GEAR else str(value)
