"""The fault scenarios and the harness that runs one (`python -m tests.reliability` runs
them all)."""
