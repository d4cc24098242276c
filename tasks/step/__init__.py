"""One step of a job: the tasks the worker registers, the step run with its watchdog, the
store retries it rides out outages with, and the runtime it gets its store and engine from."""
