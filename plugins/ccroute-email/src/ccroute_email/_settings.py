"""The email channel's settings: one frozen value, checked when it is built."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs
from ccroute.model import MAX_LEVEL, MIN_LEVEL

from ._errors import EmailError

__all__ = ["MIB", "EmailSettings"]

#: One mebibyte, the unit of the size limits.
MIB = 1024 * 1024

DEFAULT_ACKNOWLEDGEMENT = (
    "Thank you for your message. It has been received and is waiting for the next "
    "available agent; please reply to this email if you need to add anything.\n"
)


def _requirements(value: Mapping[str, int] | None) -> Mapping[str, int]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise EmailError(
            f"email setting 'requirements' must be a mapping of skill to level, got {value!r}"
        )
    return MappingProxyType(dict(value))


def _positive_int(name: str, value: object, *, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise EmailError(f"email setting {name!r} must be an integer >= {minimum}, got {value!r}")


def _seconds(name: str, value: object) -> None:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        raise EmailError(f"email setting {name!r} must be a number of seconds >= 0, got {value!r}")


@attrs.frozen(slots=True, kw_only=True)
class EmailSettings:
    """What the email channel listens on, where it sends, and how it routes mail.

    Every field can be given as a key of the service's ``"email"`` settings or
    as a keyword argument of :class:`~ccroute_email.EmailChannel`.

    :param enabled: whether the channel starts its SMTP server. An
        :class:`~ccroute_email.EmailChannel` the application creates and
        passes to the service is enabled unless this is set to ``False``; the
        channel the ``ccroute`` entry point installs (:mod:`ccroute_email.plugin`)
        listens only when the service's ``"email"`` settings set it to ``True``,
        so installing the distribution opens no port by itself.
    :param host: address the SMTP server binds (loopback by default; a public
        address exposes the server to the network).
    :param port: port the SMTP server binds; ``0`` picks a free port, readable
        afterwards as :attr:`EmailChannel.port`.
    :param server_hostname: the name the server gives in its greeting and
        ``EHLO`` answer (defaults to ``host``, so no DNS lookup at start).
    :param relay_host: SMTP relay replies and acknowledgements are sent through.
    :param relay_port: port of the relay.
    :param relay_timeout: seconds to wait for the relay before giving up.
    :param from_address: the ``From`` of replies and acknowledgements; needed
        to send anything.
    :param queue: the queue new email contacts are submitted to.
    :param requirements: skill name to minimum level an agent needs.
    :param priority_seconds: head start, in seconds of waiting, of email contacts.
    :param max_message_size: largest message accepted, in bytes (advertised
        with the ``SIZE`` extension; larger ones get ``552``).
    :param max_attachments_size: largest total size of a message's
        attachments, decoded, in bytes; ``None`` leaves only ``max_message_size``.
    :param max_body_chars: the body kept in the contact's attributes is cut to
        this many characters (attributes are logged with every contact).
    :param preferred_wait: seconds a reply in a known thread waits for the
        agent who last handled the thread before any eligible agent may take it.
    :param auto_acknowledge: send the customer an acknowledgement when the
        contact starts waiting (never to automatic or bulk mail).
    :param acknowledgement: the text of that acknowledgement.
    :param memory: how many messages and contacts the channel remembers for
        threading and replies; the oldest are forgotten first.
    :param workers: threads that hand received mail to the service; also the
        most mails accepted at the same time.
    """

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8025
    server_hostname: str | None = None
    relay_host: str = "127.0.0.1"
    relay_port: int = 25
    relay_timeout: float = 30.0
    from_address: str | None = None
    queue: str = "email"
    requirements: Mapping[str, int] = attrs.field(factory=dict, converter=_requirements)
    priority_seconds: float = 0.0
    max_message_size: int = 10 * MIB
    max_attachments_size: int | None = None
    max_body_chars: int = 100_000
    preferred_wait: float = 3600.0
    auto_acknowledge: bool = False
    acknowledgement: str = DEFAULT_ACKNOWLEDGEMENT
    memory: int = 100_000
    workers: int = 4

    def __attrs_post_init__(self) -> None:
        for name in ("host", "relay_host", "queue"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise EmailError(
                    f"email setting {name!r} must be a non-empty string, got {value!r}"
                )
        for name in ("port", "relay_port"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
                raise EmailError(
                    f"email setting {name!r} must be a port in 0..65535, got {value!r}"
                )
        if self.from_address is not None and (
            not isinstance(self.from_address, str) or "@" not in self.from_address
        ):
            raise EmailError(
                f"email setting 'from_address' must be an address like support@example.com, "
                f"got {self.from_address!r}"
            )
        for skill, level in self.requirements.items():
            if (
                not isinstance(level, int)
                or isinstance(level, bool)
                or not MIN_LEVEL <= level <= MAX_LEVEL
            ):
                raise EmailError(
                    f"email setting 'requirements': skill {skill!r} needs a level in "
                    f"{MIN_LEVEL}..{MAX_LEVEL}, got {level!r}"
                )
        _positive_int("max_message_size", self.max_message_size)
        if self.max_attachments_size is not None:
            _positive_int("max_attachments_size", self.max_attachments_size, minimum=0)
        _positive_int("max_body_chars", self.max_body_chars, minimum=0)
        _positive_int("memory", self.memory)
        _positive_int("workers", self.workers)
        _seconds("relay_timeout", self.relay_timeout)
        _seconds("preferred_wait", self.preferred_wait)
        if not isinstance(self.priority_seconds, (int, float)) or not math.isfinite(
            self.priority_seconds
        ):
            raise EmailError(
                f"email setting 'priority_seconds' must be a finite number, got {self.priority_seconds!r}"
            )
        if not isinstance(self.enabled, bool):
            raise EmailError(f"email setting 'enabled' must be true or false, got {self.enabled!r}")
        if not isinstance(self.auto_acknowledge, bool):
            raise EmailError(
                f"email setting 'auto_acknowledge' must be true or false, got {self.auto_acknowledge!r}"
            )

    @classmethod
    def from_mapping(cls, *layers: Mapping[str, Any]) -> EmailSettings:
        """Build settings from mappings, later ones overriding earlier ones.

        Raises :class:`EmailError` for a key that is not a setting (a typo
        would otherwise be silently ignored) or a value out of range.
        """
        known = {field.name for field in attrs.fields(cls)}
        merged: dict[str, Any] = {}
        for layer in layers:
            if not isinstance(layer, Mapping):
                raise EmailError(f"email settings must be a mapping, got {layer!r}")
            unknown = sorted(set(layer) - known)
            if unknown:
                raise EmailError(
                    f"unknown email setting(s) {', '.join(map(repr, unknown))}; "
                    f"known: {', '.join(sorted(known))}"
                )
            merged.update(layer)
        return cls(**merged)
