"""Validated answers kept in the job's scratch folder, keyed by call and prompt.

A step that runs again after a crash (or after one chapter failed) asks only for what it
does not have yet. The key includes a hash of the prompt and the schema, so an answer is
reused only for exactly the same question.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def _path(work_dir: Path, key: str, prompt: str, schema: dict[str, Any]) -> Path:
    digest = hashlib.sha256()
    digest.update(prompt.encode("utf-8"))
    digest.update(json.dumps(schema, sort_keys=True).encode("utf-8"))
    return work_dir / "claude" / "cache" / f"{key}-{digest.hexdigest()[:16]}.json"


def load(work_dir: Path, key: str, prompt: str, schema: dict[str, Any], model: type[M]) -> M | None:
    path = _path(work_dir, key, prompt, schema)
    try:
        return model.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None


def save(work_dir: Path, key: str, prompt: str, schema: dict[str, Any], value: BaseModel) -> None:
    path = _path(work_dir, key, prompt, schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(value.model_dump_json(), encoding="utf-8")
    os.replace(tmp, path)  # a crash mid-write leaves no half entry
