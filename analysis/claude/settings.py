"""Settings of the Claude engine, read from ``CLAUDE_*`` variables when the engine is built.

The engine has its own small settings class so that the worker's settings stay free of
one engine's knobs. The credential keeps its usual name (``ANTHROPIC_API_KEY`` or
``CLAUDE_CODE_OAUTH_TOKEN``) and is held as a ``SecretStr``: it is handed to the ``claude``
child process and to nothing else.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from fondation.errors import ConfigError

# The calls the engine makes, one per analysis step, named by the step table's keys
# (tests/unit/test_step_table.py); CLAUDE_MAX_TURNS_<NAME> overrides the turns.
StepName = Literal["abstractions", "relationships", "order", "chapters", "review", "tutorials"]

# What a worker on this engine says at start when it has no credential: the variables to
# set, and how to choose the offline engine instead (it is never chosen for the operator).
MISSING_CREDENTIAL = (
    "the claude engine needs a credential: set ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN"
    " (from `claude setup-token`), or choose the offline engine with ANALYSIS_ENGINE=offline"
)


class ClaudeSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CLAUDE_", case_sensitive=False, extra="ignore", populate_by_name=True
    )

    bin: str = Field(default="claude", description="The Claude Code CLI to run.")
    model: str | None = Field(default=None, description="--model; unset uses the CLI's default.")
    fallback_model: str | None = Field(
        default=None,
        description="--fallback-model: the model the CLI switches to when the API is overloaded.",
    )
    max_turns: int = Field(default=30, ge=1, description="--max-turns of every call.")
    max_turns_abstractions: int | None = Field(
        default=None,
        ge=1,
        description="--max-turns of the abstractions calls; unset: CLAUDE_MAX_TURNS.",
    )
    max_turns_relationships: int | None = Field(
        default=None,
        ge=1,
        description="--max-turns of the relationships calls; unset: CLAUDE_MAX_TURNS.",
    )
    max_turns_order: int | None = Field(
        default=None, ge=1, description="--max-turns of the order calls; unset: CLAUDE_MAX_TURNS."
    )
    max_turns_chapters: int | None = Field(
        default=None,
        ge=1,
        description="--max-turns of the chapters calls; unset: CLAUDE_MAX_TURNS.",
    )
    max_turns_review: int | None = Field(
        default=None, ge=1, description="--max-turns of the review calls; unset: CLAUDE_MAX_TURNS."
    )
    max_turns_tutorials: int | None = Field(
        default=None,
        ge=1,
        description="--max-turns of the tutorials calls; unset: CLAUDE_MAX_TURNS.",
    )
    max_budget_usd: float | None = Field(
        default=1.0, gt=0, description="--max-budget-usd of each call; unset for no cap."
    )
    job_budget_usd: float | None = Field(
        default=None,
        gt=0,
        description="Cap on the sum of a job's calls (the CLI's total_cost_usd); reaching it "
        "fails the job for good. Unset for no cap.",
    )
    timeout_s: float = Field(default=600.0, gt=0, description="Wall-clock limit of one call.")
    max_calls: int = Field(
        default=8,
        ge=1,
        description="Claude calls running at once in the whole fleet (shared through Redis).",
    )
    calls_per_minute: int | None = Field(
        default=None,
        ge=1,
        description="Claude calls the whole fleet starts per minute; unset for no pacing. "
        "A call makes one API request a turn.",
    )
    step_wait_s: float = Field(
        default=60.0,
        ge=0,
        description="Longest wait for a Claude slot or a pause within a step; a longer one "
        "gives the job back, to run again when the wait ends, without spending an attempt.",
    )
    rate_limit_wait_s: float = Field(
        default=60.0,
        gt=0,
        description="How long the fleet waits after a 429 that ended a call at once (the CLI "
        "waits out a retry-after of up to 60 s itself and hides longer ones).",
    )
    probe_interval_s: float = Field(
        default=300.0,
        gt=0,
        description="While the credential is rejected, how often one call is let through to "
        "see whether it works again.",
    )
    validation_retries: int = Field(
        default=2, ge=0, description="Calls again after an invalid or failed answer."
    )
    review_with_drafts: bool = Field(
        default=True,
        description="Review each chapter as soon as its draft is done (in step 4), instead of "
        "after the slowest draft; step 5 then reads the reviews from the job's cache.",
    )
    chapter_concurrency: int = Field(
        default=4, ge=1, description="Chapter (and review) calls running at once in a step."
    )
    # dontAsk only: it denies whatever is not allowed without asking, and allows reads in
    # the working directory alone. default/manual would wait for a human that a worker
    # has not; bypassPermissions or acceptEdits would let a prompt injection act.
    permission_mode: Literal["dontAsk"] = Field(
        default="dontAsk",
        description="--permission-mode; dontAsk denies reads outside the checkout and all else.",
    )
    sandbox: Literal["auto", "bwrap", "off"] = Field(
        default="auto",
        description="Run the CLI under bubblewrap, seeing only the checkout: auto uses it "
        "when bwrap works here, bwrap requires it, off never.",
    )
    bwrap_bin: str = Field(default="bwrap", description="The bubblewrap binary for CLAUDE_SANDBOX.")
    base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ANTHROPIC_BASE_URL", "base_url"),
        description="An API gateway the CLI talks to instead of Anthropic's API.",
    )
    https_proxy: str | None = Field(
        default=None,
        validation_alias=AliasChoices("HTTPS_PROXY", "https_proxy"),
        description="Passed to the CLI as HTTPS_PROXY.",
    )
    http_proxy: str | None = Field(
        default=None,
        validation_alias=AliasChoices("HTTP_PROXY", "http_proxy"),
        description="Passed to the CLI as HTTP_PROXY.",
    )
    no_proxy: str | None = Field(
        default=None,
        validation_alias=AliasChoices("NO_PROXY", "no_proxy"),
        description="Passed to the CLI as NO_PROXY.",
    )
    node_extra_ca_certs: str | None = Field(
        default=None,
        validation_alias=AliasChoices("NODE_EXTRA_CA_CERTS", "node_extra_ca_certs"),
        description="A CA bundle file the CLI trusts besides its own (a TLS-inspecting proxy).",
    )
    kill_grace_s: float = Field(
        default=2.0, gt=0, description="SIGTERM-to-SIGKILL delay when a call is stopped."
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_API_KEY", "anthropic_api_key")
    )
    oauth_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("CLAUDE_CODE_OAUTH_TOKEN", "oauth_token")
    )

    @model_validator(mode="after")
    def _has_credential(self) -> ClaudeSettings:
        if self.anthropic_api_key is None and self.oauth_token is None:
            raise PydanticCustomError("missing_credential", MISSING_CREDENTIAL)
        return self

    def turns_for(self, step: StepName) -> int:
        override: int | None = getattr(self, f"max_turns_{step}")
        return override if override is not None else self.max_turns

    def credential(self) -> tuple[str, str]:
        """(variable, value) of the one credential the child receives; the API key wins,
        as it does inside the CLI."""
        if self.anthropic_api_key is not None:
            return "ANTHROPIC_API_KEY", self.anthropic_api_key.get_secret_value()
        assert self.oauth_token is not None  # the validator guarantees one of them
        return "CLAUDE_CODE_OAUTH_TOKEN", self.oauth_token.get_secret_value()


def load_claude_settings(**overrides: object) -> ClaudeSettings:
    """Build the settings; a bad value becomes a ``ConfigError`` naming the variable."""
    try:
        return ClaudeSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            if not where:  # the whole configuration: the message names the variables
                lines.append(err["msg"])
                continue
            # Aliased fields (the credentials) are reported under their own name.
            name = where if where.isupper() else f"CLAUDE_{where}".upper()
            lines.append(f"{name}: {err['msg']}")
        raise ConfigError("invalid Claude engine configuration:\n  " + "\n  ".join(lines)) from exc
