"""The project's exception tree.

Retries depend on the type: a ``PermanentError`` means the input is bad and running
again cannot help, a ``TransientError`` means the world was briefly unavailable.
"""

from __future__ import annotations


class FondationError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(FondationError):
    """A setting is missing or invalid; the message names the variable."""


class PermanentError(FondationError):
    """Bad input: the job fails at once, with no retry."""


class TransientError(FondationError):
    """A passing fault (network, store busy, worker lost): retry with backoff."""


class InvalidRepositoryURL(PermanentError):
    """The repository URL is refused before any git command runs."""


class MalformedJob(PermanentError):
    """A job record is missing fields or has fields of the wrong type."""


class StepValidationError(PermanentError):
    """An engine produced an artifact that fails validation after every retry."""


class StoreUnavailable(TransientError):
    """The job store did not answer, or answered that it is overloaded."""


class StoreAuthError(FondationError):
    """The job store refused our credential. Not transient: an operator must act."""


class LeaseLost(FondationError):
    """The caller no longer holds the job's lease; it must stop working on the job.

    Raised on every fenced write whose lease token is not the job's current one, or
    whose job has reached a final state (canceled, completed, failed, dead).
    """

    def __init__(self, job_id: str, reason: str) -> None:
        super().__init__(f"lease lost on job {job_id}: {reason}")
        self.job_id = job_id
        self.reason = reason


class CancelRequested(LeaseLost):
    """The job's cancel was requested: its holder must stop and finish the cancel."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id, "cancel requested")


class JobNotFound(FondationError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} not found")
        self.job_id = job_id


class JobCanceled(FondationError):
    """A step noticed that its job was canceled and stopped early."""


class WorkDeferred(FondationError):
    """A step cannot go on before ``until_ms`` for a reason outside its job (a limit
    the whole fleet shares). Neither permanent nor transient: the job is given back to
    run again then, and no attempt is spent. ``reason`` names the cause for the job's
    progress text (rate_limit, overloaded, usage_limit, credential, spend, capacity);
    ``until_known`` says whether ``until_ms`` was announced or is only when to look
    again."""

    def __init__(self, message: str, *, reason: str, until_ms: int, until_known: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.until_ms = until_ms
        self.until_known = until_known
