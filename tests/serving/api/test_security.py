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


def test_only_sha256_digests_are_stored() -> None:
    import hashlib

    keyring = ApiKeyring.from_setting("reader-key-1,boss-key-12:admin")
    stored = vars(keyring)["_digests"]
    assert set(stored) == {
        hashlib.sha256(b"reader-key-1").digest(),
        hashlib.sha256(b"boss-key-12").digest(),
    }


def test_every_key_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # No early exit on a match: the time taken must not tell which key (or whether one) matched.
    import hmac

    compared: list[tuple[bytes, bytes]] = []
    real_compare = hmac.compare_digest

    def counting_compare(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting_compare)
    keyring = ApiKeyring.from_setting("first-key-1,second-key-2,third-key-3:admin")
    for presented in ("first-key-1", "third-key-3", "no-such-key-0"):
        compared.clear()
        keyring.authenticate(presented)
        assert len(compared) == 3
