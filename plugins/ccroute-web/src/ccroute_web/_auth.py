"""Users, their hashed secrets, and checking a password or token in constant time.

A hash is one line: ``scrypt$<n>$<r>$<p>$<salt>$<key>`` (made by
:func:`hash_secret`) or ``pbkdf2_sha256$<iterations>$<salt>$<key>``, salt and
key in URL-safe base64. Checking costs one key derivation (about 50 ms for the
default scrypt cost), so a secret that checked out is remembered, by its
SHA-256, for the rest of the process: API clients that send Basic
authentication on every request pay the derivation once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping

import attrs

from ._errors import WebError
from ._settings import Role, UserSettings

__all__ = ["LOCKOUT_FAILURES", "LOCKOUT_WINDOW", "User", "Users", "hash_secret", "verify_secret"]

#: Failed logins of one user name within :data:`LOCKOUT_WINDOW` seconds that
#: make it wait (``429``) until the window has passed since the first of them.
LOCKOUT_FAILURES = 5
#: Seconds over which failed logins are counted.
LOCKOUT_WINDOW = 60.0

# scrypt cost: 2**14 rounds, 16 MiB of memory (the interactive-login figure of RFC 7914)
_N, _R, _P = 2**14, 8, 1
_MAXMEM = 64 * 1024 * 1024
_MIN_PBKDF2 = 100_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, *, n: int = _N, r: int = _R, p: int = _P) -> str:
    """The hash of a password or token to put in the settings (scrypt, random salt).

    Costs one scrypt derivation (about 50 ms with the defaults).

    :raises WebError: an empty secret.
    """
    if not isinstance(secret, str) or not secret:
        raise WebError("a password or token must be a non-empty string")
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


@attrs.frozen(slots=True)
class _Hash:
    scheme: str
    params: tuple[int, ...]
    salt: bytes
    key: bytes

    @classmethod
    def parse(cls, text: str, where: str) -> _Hash:
        parts = text.split("$") if isinstance(text, str) else []
        try:
            if parts[0] == "scrypt" and len(parts) == 6:
                n, r, p = (int(x) for x in parts[1:4])
                if n < 2 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16:
                    raise ValueError("scrypt cost out of range")
                return cls("scrypt", (n, r, p), _unb64(parts[4]), _unb64(parts[5]))
            if parts[0] == "pbkdf2_sha256" and len(parts) == 4:
                rounds = int(parts[1])
                if rounds < _MIN_PBKDF2:
                    raise ValueError(f"fewer than {_MIN_PBKDF2} iterations")
                return cls("pbkdf2_sha256", (rounds,), _unb64(parts[2]), _unb64(parts[3]))
        except (ValueError, TypeError) as error:
            raise WebError(f"{where}: not a readable hash ({error})") from None
        raise WebError(
            f"{where}: not a hash made by hash_secret (scrypt$... or pbkdf2_sha256$...); "
            "never put a password itself in the settings"
        )

    def matches(self, secret: str) -> bool:
        data = secret.encode()
        if self.scheme == "scrypt":
            n, r, p = self.params
            key = hashlib.scrypt(
                data, salt=self.salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=len(self.key)
            )
        else:
            key = hashlib.pbkdf2_hmac(
                "sha256", data, self.salt, self.params[0], dklen=len(self.key)
            )
        return hmac.compare_digest(key, self.key)


def verify_secret(secret: str, hashed: str) -> bool:
    """Whether ``secret`` matches ``hashed`` (compared in constant time).

    :raises WebError: ``hashed`` is not a hash :func:`hash_secret` could have made.
    """
    return _Hash.parse(hashed, "hash").matches(secret)


@attrs.frozen(slots=True)
class User:
    """A user as the application sees it once authenticated."""

    #: The user name (the login).
    name: str
    #: ``"agent"``, ``"supervisor"`` or ``"integration"``.
    role: Role
    #: The router's agent id of an agent; ``None`` for other roles.
    agent_id: str | None
    #: The name shown to customers and on the wallboard.
    display: str


@attrs.define(slots=True)
class _Entry:
    user: User
    password: _Hash | None
    token: _Hash | None


class Users:
    """The configured users: look one up and check its password or token.

    :raises WebError: a hash that cannot be read (naming the user).
    """

    def __init__(self, users: Mapping[str, UserSettings]) -> None:
        self._entries: dict[str, _Entry] = {}
        for name, spec in users.items():
            agent = spec.agent or name if spec.role == "agent" else None
            user = User(name, spec.role, agent, spec.name or name)
            self._entries[name] = _Entry(
                user,
                None
                if spec.password is None
                else _Hash.parse(spec.password, f"web user {name!r} password"),
                None if spec.token is None else _Hash.parse(spec.token, f"web user {name!r} token"),
            )
        # sha256(name \0 secret) of secrets that checked out: one derivation each
        self._verified: dict[bytes, str] = {}
        # per user: sessions signed with an older epoch are over (logout)
        self._epochs: dict[str, int] = {}
        # per user name: times of recent failed logins
        self._failures: dict[str, list[float]] = {}
        # a hash to spend the same time on for unknown users (no user enumeration
        # by timing), made when first needed
        self._decoy: _Hash | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> User | None:
        """The user called ``name``, or ``None``."""
        entry = self._entries.get(name)
        return None if entry is None else entry.user

    def by_agent(self, agent_id: str) -> User | None:
        """The user who works agent ``agent_id``, or ``None``. O(users)."""
        for entry in self._entries.values():
            if entry.user.agent_id == agent_id:
                return entry.user
        return None

    def epoch(self, name: str) -> int:
        """The user's session epoch: a session cookie of another epoch is over."""
        return self._epochs.get(name, 0)

    def end_sessions(self, name: str) -> None:
        """End every session of ``name`` (its cookies no longer authenticate). O(1)."""
        self._epochs[name] = self._epochs.get(name, 0) + 1

    def failed(self, name: str, now: float) -> None:
        """Record a failed login for ``name`` at ``now``."""
        if len(self._failures) > 10_000:
            self._failures.clear()
        recent = [t for t in self._failures.get(name, ()) if now - t < LOCKOUT_WINDOW]
        recent.append(now)
        self._failures[name] = recent[-LOCKOUT_FAILURES:]

    def locked_for(self, name: str, now: float) -> float:
        """Seconds ``name`` must wait before trying again (0: it may try now): after
        :data:`LOCKOUT_FAILURES` failures within :data:`LOCKOUT_WINDOW` seconds."""
        recent = self._failures.get(name, ())
        if len(recent) < LOCKOUT_FAILURES:
            return 0.0
        return max(0.0, recent[-LOCKOUT_FAILURES] + LOCKOUT_WINDOW - now)

    def authenticate(self, name: str, secret: str, *, tokens: bool = True) -> User | None:
        """The user if ``secret`` is its password (or, with ``tokens``, its token); else ``None``.

        The first check of a secret costs a key derivation; later ones a SHA-256.
        """
        if not isinstance(name, str) or not isinstance(secret, str) or not secret:
            return None
        digest = hashlib.sha256(f"{name}\0{secret}\0{tokens}".encode()).digest()
        entry = self._entries.get(name)
        if entry is not None and self._verified.get(digest) == name:
            return entry.user
        if entry is None:
            if self._decoy is None:
                self._decoy = _Hash.parse(hash_secret(secrets.token_urlsafe(16)), "decoy")
            self._decoy.matches(secret)
            return None
        ok = (entry.password is not None and entry.password.matches(secret)) or (
            tokens and entry.token is not None and entry.token.matches(secret)
        )
        if not ok:
            return None
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[digest] = name
        return entry.user
