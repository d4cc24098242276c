"""The GitHub token a job's clone uses: its repository owner's own, as the web app stores
it, or the operator's ``GIT_TOKEN`` on a store that keeps no users.

The web app keeps each user's OAuth token in ``users.githubAccessToken`` in one of three
forms: ``enc_v1_<iv hex>:<tag hex>:<ciphertext hex>`` (AES-256-GCM, 16-byte IV and tag,
under the web's ``ENCRYPTION_KEY``), the legacy ``obf_<base64>``, or the token in plain
text. The plain token lives only in memory: it goes to git in the clone's environment
(checkout/clone.py) and nowhere else.

Without ``ENCRYPTION_KEY`` the web app (outside ``NODE_ENV=production``) and the Node
worker both fall back to a development key, derived by scrypt from a passphrase written
in the web app's public source (``packages/worker/src/encryption.ts``). A worker without
the key uses the same fallback, so a development setup of the web app works unchanged,
and warns at start (``development_key_warning``): tokens under that key are as good as
plain text to anyone who has read the source. A production deployment sets the key.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fondation.errors import ConfigError, PermanentError
from fondation.settings import Settings

# The web app's own words, so that its users read what they already know.
NOT_FOUND_MESSAGE = "GitHub access token not found. Please reconnect your GitHub account."
UNREADABLE_MESSAGE = "Invalid GitHub token format. Please reconnect your GitHub account."

_ENCRYPTED = "enc_v1_"
_LEGACY = "obf_"
_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")
_IV_BYTES = 16
_TAG_BYTES = 16
# The web app's development fallback: Node's crypto.scryptSync(passphrase, salt, 32) with
# its defaults (N=16384, r=8, p=1). Public by construction: it protects nothing.
_DEVELOPMENT_PASSPHRASE = b"dev-key-do-not-use-in-production"
_DEVELOPMENT_SALT = b"salt"

DEVELOPMENT_KEY_WARNING = (
    "ENCRYPTION_KEY is unset: the users' GitHub tokens are decrypted with the web app's"
    " development key, which anyone can derive from the web app's public source, so"
    " tokens stored under it are readable by anyone who gets the database. Fine for a"
    " development setup of the web app; in production set ENCRYPTION_KEY to the web app's"
    " own 64 hex characters (openssl rand -hex 32), on the web app and on the workers."
)


class GitHubTokenMissing(PermanentError):
    """The repository's owner has no GitHub token: the user must reconnect GitHub."""


class GitHubTokenUnreadable(PermanentError):
    """The stored token cannot be decoded or decrypted under this ENCRYPTION_KEY."""


@dataclass(frozen=True, repr=False)
class CloneCredentials:
    """What a worker holds to give a clone its token: the operator's ``GIT_TOKEN`` and
    the key to the web's stored tokens. ``repr`` is off: neither may reach a log."""

    git_token: str | None
    key: bytes | None

    @classmethod
    def from_settings(cls, settings: Settings) -> CloneCredentials:
        """Raises ``ConfigError`` for a malformed ENCRYPTION_KEY, so that a worker with a
        bad key stops at start instead of failing every private clone. Without one, the
        web app's development key (see the module's docstring)."""
        key_hex = settings.encryption_key
        return cls(
            git_token=settings.git_token.get_secret_value() if settings.git_token else None,
            key=parse_key(key_hex.get_secret_value()) if key_hex else development_key(),
        )

    def for_clone(self, per_user: bool, stored: str | None) -> str | None:
        """The token for one clone. On a store with users (``per_user``) it is the owner's
        own and nothing else: a job must not clone with another account's rights."""
        if not per_user:
            return self.git_token
        return decrypt_stored_token(stored, self.key)


@functools.cache
def development_key() -> bytes:
    """The key the web app encrypts with when its ENCRYPTION_KEY is unset."""
    return hashlib.scrypt(
        _DEVELOPMENT_PASSPHRASE, salt=_DEVELOPMENT_SALT, n=16384, r=8, p=1, dklen=32
    )


def development_key_warning(settings: Settings) -> str | None:
    """What a worker says at start when it falls back to the development key: only on a
    store whose repositories belong to the web app's users (SQLite clones with
    ``GIT_TOKEN`` and never reads a stored token)."""
    if settings.encryption_key is None and settings.store_kind == "convex":
        return DEVELOPMENT_KEY_WARNING
    return None


def parse_key(key_hex: str) -> bytes:
    """The web's ENCRYPTION_KEY: 64 hex characters, 32 bytes. The message never quotes
    the value."""
    if not _HEX_KEY.match(key_hex):
        raise ConfigError("ENCRYPTION_KEY must be 64 hex characters (32 bytes)")
    return bytes.fromhex(key_hex)


def decrypt_stored_token(stored: str | None, key: bytes | None) -> str:
    """The plain token from ``users.githubAccessToken`` as the web app wrote it.

    Raises a permanent error with the web's "reconnect GitHub" message when there is no
    token or it cannot be read: running the job again cannot help, the user must act.
    The errors never carry the stored value."""
    if not stored:
        raise GitHubTokenMissing(NOT_FOUND_MESSAGE)
    if stored.startswith(_ENCRYPTED):
        return _decrypt(stored.removeprefix(_ENCRYPTED), key)
    if stored.startswith(_LEGACY):
        try:
            token = base64.b64decode(stored.removeprefix(_LEGACY), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise GitHubTokenUnreadable(UNREADABLE_MESSAGE) from None
        return _checked(token)
    return _checked(stored)


def _decrypt(body: str, key: bytes | None) -> str:
    if key is None:
        # Only a caller that passes no key gets here (a worker always has one, the
        # development key at worst); the message says what to set.
        raise GitHubTokenUnreadable(
            "the worker has no ENCRYPTION_KEY to decrypt the repository owner's GitHub token"
        )
    try:
        iv_hex, tag_hex, ciphertext_hex = body.split(":")
        iv, tag = bytes.fromhex(iv_hex), bytes.fromhex(tag_hex)
        ciphertext = bytes.fromhex(ciphertext_hex)
    except ValueError:
        raise GitHubTokenUnreadable(UNREADABLE_MESSAGE) from None
    if len(iv) != _IV_BYTES or len(tag) != _TAG_BYTES:
        raise GitHubTokenUnreadable(UNREADABLE_MESSAGE)
    try:
        plain = AESGCM(key).decrypt(iv, ciphertext + tag, None)
    except InvalidTag:
        # Tampered, or encrypted under another key: the cause is not worth keeping (it
        # says nothing more), and no part of the secret may travel with the error.
        raise GitHubTokenUnreadable(UNREADABLE_MESSAGE) from None
    try:
        return _checked(plain.decode("utf-8"))
    except UnicodeDecodeError:
        raise GitHubTokenUnreadable(UNREADABLE_MESSAGE) from None


def _checked(token: str) -> str:
    """A token git can carry in a header: no line breaks, nothing but printable ASCII."""
    token = token.strip()
    if not token or not token.isascii() or not token.isprintable():
        raise GitHubTokenUnreadable(UNREADABLE_MESSAGE)
    return token
