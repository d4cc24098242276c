"""The fault-injection suite: scenarios with real Redis, Celery workers and bridges,
checked by the test engine's ledger. `make reliability` runs each N times and writes
docs/RELIABILITY.md; tests/acceptance/test_reliability.py runs smaller versions in CI."""
