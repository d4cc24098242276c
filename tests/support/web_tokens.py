"""Users' GitHub tokens as the web app stores them, for tests that play the web app."""

from __future__ import annotations

import os
import shutil
import subprocess

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# The web app's development setup, written with Node's own crypto so that the key
# derivation is Node's scryptSync and not a Python twin of it: scrypt of the web's
# public fallback passphrase, then AES-256-GCM with a 16-byte IV, in the enc_v1_ form.
_NODE_DEVELOPMENT_ENCRYPT = """
const crypto = require("crypto");
const key = crypto.scryptSync("dev-key-do-not-use-in-production", "salt", 32);
const iv = crypto.randomBytes(16);
const cipher = crypto.createCipheriv("aes-256-gcm", key, iv);
const sealed = cipher.update(process.argv[1], "utf8", "hex") + cipher.final("hex");
process.stdout.write(`enc_v1_${iv.toString("hex")}:${cipher.getAuthTag().toString("hex")}:${sealed}`);
"""


def web_encrypt(token: str, key_hex: str) -> str:
    """The web app's enc_v1_ form: 16-byte IV, AES-256-GCM, hex parts, tag apart."""
    iv = os.urandom(16)
    sealed = AESGCM(bytes.fromhex(key_hex)).encrypt(iv, token.encode(), None)
    ciphertext, tag = sealed[:-16], sealed[-16:]
    return f"enc_v1_{iv.hex()}:{tag.hex()}:{ciphertext.hex()}"


def node_available() -> bool:
    return shutil.which("node") is not None


def web_encrypt_in_development(token: str) -> str:
    """``token`` as the web app stores it when its ENCRYPTION_KEY is unset, by Node."""
    done = subprocess.run(
        ["node", "-e", _NODE_DEVELOPMENT_ENCRYPT, token],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return done.stdout
