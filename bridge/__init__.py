"""The bridge: leases jobs from the job store and runs each one as a Celery chain."""
