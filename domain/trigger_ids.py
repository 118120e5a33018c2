"""Opaque, signed, increasing ids of the events of the `triggers` subscription.

An event's id is its trigger stream entry's id (Redis's `milliseconds-sequence`), written as
fixed-width hex so that later events have greater ids as plain strings (a bot may compare them),
followed by an HMAC of the deployment's cursor secret over the stream's name and that entry id.
`after` is only taken back with a valid MAC: an id the server did not issue (edited, forged,
another deployment's or another stream's) is BAD_USER_INPUT, as for the market cursors
(domain/cursors.py), instead of silently resuming somewhere else.
"""

from __future__ import annotations

import hmac
import re

from errors import BadUserInput

StreamId = tuple[int, int]  # (milliseconds, sequence), ordered as Redis orders entries

_MAC_HEX = 32  # 128 bits
_ID = re.compile(rf"^([0-9a-f]{{12}})([0-9a-f]{{16}})([0-9a-f]{{{_MAC_HEX}}})$")


def encode_event_id(entry: StreamId, stream: str, secret: str) -> str:
    milliseconds, sequence = entry
    return f"{milliseconds:012x}{sequence:016x}{_mac(entry, stream, secret)}"


def decode_event_id(event_id: str, stream: str, secret: str, *, field: str = "after") -> StreamId:
    """The stream entry an id names; BadUserInput if this server did not issue it."""
    found = _ID.match(event_id)
    if found is not None:
        entry = (int(found[1], 16), int(found[2], 16))
        if hmac.compare_digest(found[3], _mac(entry, stream, secret)):
            return entry
    raise BadUserInput(
        f"{field}: {event_id[:80]!r} is not an event id this server issued; pass the `id` of "
        "the last event received, or omit it to receive the events from now on.",
        field=field,
    )


def _mac(entry: StreamId, stream: str, secret: str) -> str:
    payload = f"triggers|{stream}|{entry[0]}-{entry[1]}".encode()
    return hmac.digest(secret.encode(), payload, "sha256").hex()[:_MAC_HEX]
