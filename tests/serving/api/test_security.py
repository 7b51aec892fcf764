"""serving/api/security.py: parsing, hashing and checking API keys."""

from __future__ import annotations

import pytest

from features.errors import InputError
from serving.api.security import ApiKeyring


def test_roles_come_from_the_setting() -> None:
    keyring = ApiKeyring.from_setting(" reader-key-1 , boss-key-12:admin ,, ")
    assert len(keyring) == 2
    reader, boss = keyring.authenticate("reader-key-1"), keyring.authenticate("boss-key-12")
    assert reader is not None and boss is not None
    assert (reader.role, reader.is_admin, boss.role, boss.is_admin) == (
        "user",
        False,
        "admin",
        True,
    )


@pytest.mark.parametrize(
    "presented", ["", "reader-key-", "reader-key-12", "READER-KEY-1", "boss-key-12:admin"]
)
def test_anything_but_an_exact_key_is_refused(presented: str) -> None:
    keyring = ApiKeyring.from_setting("reader-key-1,boss-key-12:admin")
    assert keyring.authenticate(presented) is None


def test_plain_keys_are_not_kept() -> None:
    keyring = ApiKeyring.from_setting("reader-key-1,boss-key-12:admin")
    kept = repr(vars(keyring)) + repr(keyring)
    assert "reader-key-1" not in kept and "boss-key-12" not in kept
    principal = keyring.authenticate("boss-key-12")
    assert principal is not None and "boss" not in principal.fingerprint


@pytest.mark.parametrize(
    ("setting", "message"),
    [("good-key-123:root", "role 'root'"), ("short", "at least 8 characters")],
)
def test_bad_key_settings_are_input_errors(setting: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        ApiKeyring.from_setting(setting)


def test_no_keys_is_an_empty_keyring() -> None:
    assert len(ApiKeyring.from_setting("")) == 0
