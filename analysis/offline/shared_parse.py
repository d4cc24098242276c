"""Parse results shared across the jobs of a repository.

The index keeps each file's facts in the job's scratch folder, keyed by path and the
hash of the file's content (index.py). A new job of the same repository starts with an
empty scratch folder; this module seeds it from the facts the repository's previous job
kept in the job store (reuse records of kind ``parse``), so a file whose content is the
same is not parsed again, and keeps this job's facts for the next one.

The facts of a whole checkout are one pack: the index cache's JSON, compressed, cut into
at most ``REUSE_VARIANTS_PER_KEY`` parts (the variants of one key), each naming its pack
and place. A lookup is one store read. A pack is taken only whole: parts of two packs
(two jobs that saved at once) are left, and the files are parsed again. A pack too large
for the parts is not kept.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import zlib

from pydantic import BaseModel, ValidationError

from analysis.reuse import ReuseBook
from store.records import REUSE_VALUE_MAX_CHARS, REUSE_VARIANTS_PER_KEY, ReuseKind

log = logging.getLogger(__name__)
_KIND: ReuseKind = "parse"
# Room for the part's own fields around its data.
_PART_CHARS = REUSE_VALUE_MAX_CHARS - 1024


class _Part(BaseModel):
    pack: str
    part: int
    of: int
    data: str


def load_pack(book: ReuseBook, key: str) -> bytes | None:
    """The kept pack of ``key`` (the cache's JSON), or None when none is whole or the
    job is fresh."""
    if book.fresh:
        return None
    parts: dict[int, _Part] = {}
    for work in book.find(_KIND, key):
        try:
            part = _Part.model_validate_json(work.value)
        except ValidationError:
            continue
        parts.setdefault(part.part, part)
    first = parts.get(0)
    if first is None:
        return None
    chosen = [parts.get(i) for i in range(first.of)]
    if any(p is None or p.pack != first.pack for p in chosen):
        return None
    data = "".join(p.data for p in chosen if p is not None)
    try:
        packed = zlib.decompress(base64.b64decode(data))
    except (ValueError, zlib.error):
        return None
    return packed if hashlib.sha256(packed).hexdigest()[:16] == first.pack else None


def save_pack(book: ReuseBook, key: str, payload: bytes) -> None:
    """Keep ``payload`` for the repository's next job, when it fits the parts."""
    data = base64.b64encode(zlib.compress(payload, 6)).decode("ascii")
    chunks = [data[i : i + _PART_CHARS] for i in range(0, len(data), _PART_CHARS)] or [""]
    if len(chunks) > REUSE_VARIANTS_PER_KEY:
        log.info("parse results not kept: %d characters compressed", len(data))
        return
    pack = hashlib.sha256(payload).hexdigest()[:16]
    for i, chunk in enumerate(chunks):
        value = _Part(pack=pack, part=i, of=len(chunks), data=chunk)
        book.keep(_KIND, key, str(i), json.dumps(value.model_dump()))
