"""The analysis: the six steps as engines (offline, Claude) and the course model they
produce. A library: it needs no broker, and imports nothing of Celery or the worker."""
