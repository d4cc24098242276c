"""The worker process: the Celery app and its transport, pool and events, the process that
consumes steps, its crash restart, and Flower."""
