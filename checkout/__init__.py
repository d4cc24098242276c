"""Git checkouts: the repository URL rules, the clone and the checkouts engines read, the
job's workspace, the process groups of git and engine subprocesses, and clone credentials."""
