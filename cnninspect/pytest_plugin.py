"""pytest plugin (entry point ``pytest11``): architecture budgets and snapshots.

Filled in by the pytest-plugin work; kept importable so pytest always loads.
"""
