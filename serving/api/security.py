"""API keys: parsed from settings, kept only as SHA-256 digests, compared in constant time.

``REPURCHASE_API_KEYS="k1,k2:admin"`` gives two keys, the second with the admin role. The
plain keys are dropped once hashed, so a memory dump or a log of this object shows none.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

from features.errors import InputError

Role = Literal["user", "admin"]
ROLES: tuple[Role, ...] = ("user", "admin")
MIN_KEY_LENGTH = 8


@dataclass(frozen=True)
class Principal:
    """Who is calling: the role of the key and a short, non-secret key fingerprint for logs."""

    role: Role
    fingerprint: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class ApiKeyring:
    """The configured keys, as digests; `authenticate` maps a presented key to a Principal."""

    def __init__(self, digests: dict[bytes, Role]) -> None:
        self._digests = dict(digests)

    @classmethod
    def from_setting(cls, api_keys: str) -> ApiKeyring:
        """Parse ``key[:role],key[:role]`` (role `admin`, or `user` when omitted)."""
        digests: dict[bytes, Role] = {}
        for position, raw in enumerate(api_keys.split(","), start=1):
            entry = raw.strip()
            if not entry:
                continue
            key, _, role_text = entry.partition(":")
            key, role_text = key.strip(), (role_text.strip().lower() or "user")
            if role_text not in ROLES:
                raise InputError(
                    f"REPURCHASE_API_KEYS entry {position}: role {role_text!r} is not one of "
                    f"{', '.join(ROLES)}"
                )
            if len(key) < MIN_KEY_LENGTH:
                raise InputError(
                    f"REPURCHASE_API_KEYS entry {position}: keys need at least "
                    f"{MIN_KEY_LENGTH} characters"
                )
            role: Role = "admin" if role_text == "admin" else "user"
            digests[_digest(key)] = role
        return cls(digests)

    def __len__(self) -> int:
        return len(self._digests)

    def __repr__(self) -> str:
        return f"ApiKeyring({len(self)} keys)"

    def authenticate(self, presented: str) -> Principal | None:
        """The principal of a presented key, or None. Every stored digest is compared."""
        candidate = _digest(presented)
        found: Role | None = None
        # No early exit: the time taken does not tell which (or whether a) key matched.
        for digest, role in self._digests.items():
            if hmac.compare_digest(digest, candidate):
                found = role
        if found is None:
            return None
        return Principal(role=found, fingerprint=candidate.hex()[:8])


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()
