"""Reading the users' GitHub tokens in the three forms the web app stores them."""

from __future__ import annotations

import base64

import pytest

from checkout.github_token import (
    NOT_FOUND_MESSAGE,
    UNREADABLE_MESSAGE,
    CloneCredentials,
    decrypt_stored_token,
    development_key,
    development_key_warning,
    parse_key,
)
from fondation.errors import ConfigError, PermanentError
from fondation.settings import load_settings
from tests.support.web_tokens import node_available, web_encrypt, web_encrypt_in_development

KEY_HEX = "0f" * 32
TOKEN = "gho_" + "A1b2C3" * 6


def test_an_encrypted_token_is_decrypted_with_the_web_key() -> None:
    assert decrypt_stored_token(web_encrypt(TOKEN, KEY_HEX), parse_key(KEY_HEX)) == TOKEN


def test_a_legacy_obfuscated_token_is_decoded() -> None:
    stored = "obf_" + base64.b64encode(TOKEN.encode()).decode()
    assert decrypt_stored_token(stored, None) == TOKEN


def test_a_plain_token_is_used_as_it_is() -> None:
    assert decrypt_stored_token(TOKEN, None) == TOKEN


@pytest.mark.parametrize("stored", [None, ""])
def test_no_token_fails_permanently_asking_to_reconnect(stored: str | None) -> None:
    with pytest.raises(PermanentError, match="reconnect your GitHub account") as info:
        decrypt_stored_token(stored, parse_key(KEY_HEX))
    assert str(info.value) == NOT_FOUND_MESSAGE


def test_a_token_encrypted_under_another_key_fails_without_revealing_it() -> None:
    stored = web_encrypt(TOKEN, "ab" * 32)
    with pytest.raises(PermanentError) as info:
        decrypt_stored_token(stored, parse_key(KEY_HEX))
    assert str(info.value) == UNREADABLE_MESSAGE
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_a_tampered_token_fails_permanently() -> None:
    stored = web_encrypt(TOKEN, KEY_HEX)
    flipped = stored[:-2] + ("00" if stored[-2:] != "00" else "11")
    with pytest.raises(PermanentError, match="Invalid GitHub token format"):
        decrypt_stored_token(flipped, parse_key(KEY_HEX))


@pytest.mark.parametrize(
    "stored",
    ["enc_v1_zz:yy:xx", "enc_v1_00:00", "obf_!!!", "obf_" + base64.b64encode(b"\xff").decode()],
)
def test_a_malformed_token_fails_permanently(stored: str) -> None:
    with pytest.raises(PermanentError, match="Invalid GitHub token format"):
        decrypt_stored_token(stored, parse_key(KEY_HEX))


def test_an_encrypted_token_without_a_key_names_the_missing_setting() -> None:
    with pytest.raises(PermanentError, match="ENCRYPTION_KEY"):
        decrypt_stored_token(web_encrypt(TOKEN, KEY_HEX), None)


def test_a_malformed_key_is_a_config_error_that_does_not_quote_it() -> None:
    with pytest.raises(ConfigError) as info:
        CloneCredentials.from_settings(load_settings(encryption_key="secret-key-value"))
    assert "secret-key-value" not in str(info.value)


def test_a_store_without_users_clones_with_the_operator_token() -> None:
    creds = CloneCredentials.from_settings(load_settings(git_token="op-token"))
    assert creds.for_clone(per_user=False, stored=None) == "op-token"


def test_a_store_with_users_never_falls_back_to_the_operator_token() -> None:
    creds = CloneCredentials.from_settings(
        load_settings(git_token="op-token", encryption_key=KEY_HEX)
    )
    assert creds.for_clone(per_user=True, stored=web_encrypt(TOKEN, KEY_HEX)) == TOKEN
    with pytest.raises(PermanentError, match="reconnect"):
        creds.for_clone(per_user=True, stored=None)
    assert "op-token" not in repr(creds)
    assert KEY_HEX not in repr(creds)


@pytest.mark.skipif(not node_available(), reason="needs node, the web app's runtime")
def test_a_token_the_web_app_encrypted_without_encryption_key_is_read_without_one() -> None:
    # Written by Node's own crypto, as the web app's development setup writes it.
    stored = web_encrypt_in_development(TOKEN)
    assert stored.startswith("enc_v1_")
    creds = CloneCredentials.from_settings(load_settings(encryption_key=None))
    assert creds.for_clone(per_user=True, stored=stored) == TOKEN


def test_the_development_key_is_the_one_nodes_scrypt_derives() -> None:
    # crypto.scryptSync("dev-key-do-not-use-in-production", "salt", 32), printed by Node.
    assert development_key().hex() == (
        "09aca543b07cf79a84b37bf4f12d0aa11bc949cfb4c569b30d836ca3be9ef995"
    )


def test_a_token_under_the_development_key_is_unreadable_with_the_production_key() -> None:
    stored = web_encrypt(TOKEN, development_key().hex())
    creds = CloneCredentials.from_settings(load_settings(encryption_key=KEY_HEX))
    with pytest.raises(PermanentError, match="Invalid GitHub token format"):
        creds.for_clone(per_user=True, stored=stored)


def test_a_worker_on_convex_without_the_key_is_warned_of_the_risk() -> None:
    convex = {"convex_url": "https://demo.convex.cloud", "convex_worker_secret": "s"}
    warning = development_key_warning(load_settings(**convex))
    assert warning is not None
    assert "ENCRYPTION_KEY is unset" in warning
    assert "development key" in warning
    assert "in production set ENCRYPTION_KEY" in warning
    assert development_key_warning(load_settings(**convex, encryption_key=KEY_HEX)) is None
    # The SQLite store clones with GIT_TOKEN and never reads a stored token.
    assert development_key_warning(load_settings(job_store="sqlite")) is None
