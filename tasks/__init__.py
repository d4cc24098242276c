"""The Celery side: the app, the pipeline of steps, the engines that do the analysis."""
