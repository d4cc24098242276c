"""The course: the artifacts the steps produce, the Markdown documents built from them, the
usage a job spent, and the requester's prompt the steps carry."""
