"""One structured line per event: JSON when stderr is not a terminal, text otherwise.
Job id, step and worker ride along as fields (``extra=``) so lines can be filtered."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from fondation.settings import Settings

_FIELDS = ("job_id", "step", "worker", "bridge")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        fields = " ".join(
            f"{n}={getattr(record, n)}" for n in _FIELDS if getattr(record, n, None) is not None
        )
        return f"{base} {fields}" if fields else base


def setup_logging(settings: Settings) -> None:
    use_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if use_json
        else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Third-party chatter stays at warning unless asked for.
    for name in ("httpx", "httpcore", "kombu", "celery.worker.strategy", "celery.app.trace"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # Revoking warns that there is no result backend to mark; we use none on purpose.
    logging.getLogger("celery.worker.control").setLevel(logging.ERROR)
