"""The racer's aids: live delta, fuel and tyre models, battle view, pit window and rejoin, weather forecast and
a readable race-control feed (docs/aids.md).

`hooks.py` holds the `process_*` entry points the writers call; `state.py` the per-session container; one module per
model (`delta`, `fuel`, `tyres`, `battle`, `pitwindow`, `forecast`, `race_control`); `view.py` what readers see and
`documents.py` the published values and JSON documents.
"""
