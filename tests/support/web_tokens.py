"""Users' GitHub tokens as the web app stores them, for tests that play the web app."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def web_encrypt(token: str, key_hex: str) -> str:
    """The web app's enc_v1_ form: 16-byte IV, AES-256-GCM, hex parts, tag apart."""
    iv = os.urandom(16)
    sealed = AESGCM(bytes.fromhex(key_hex)).encrypt(iv, token.encode(), None)
    ciphertext, tag = sealed[:-16], sealed[-16:]
    return f"enc_v1_{iv.hex()}:{tag.hex()}:{ciphertext.hex()}"
