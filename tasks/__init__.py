"""The Celery side: the chain by name (chain.py, all the bridge imports), the worker
process, one step, git, the course and the engines."""
