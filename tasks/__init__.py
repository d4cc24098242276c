"""The Celery worker: the app, the chain by name (chain.py, all the bridge imports), and
the step tasks that run the analysis on a job's checkout and write to the job store."""
