"""Automatic persisted queries (Apollo's protocol): the bot sends a hash instead of a document.

A request whose `extensions.persistedQuery` holds `{"version": 1, "sha256Hash": h}` and no
query is answered with the document registered under h, or with the standard
`PersistedQueryNotFound` error, upon which the client sends hash and document together; the
service checks that the document hashes to h and registers it in Redis, shared by every
process. Documents are kept for a week after their last registration; Redis being away only
means the client sends documents again.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from strawberry.http import GraphQLRequestData

from cache.store import CacheStore

KEPT_SECONDS = 7 * 24 * 3600


class PersistedQueryError(Exception):
    """Answered as a GraphQL error with this code, before anything is parsed."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def requested_hash(data: GraphQLRequestData) -> str | None:
    persisted = (data.extensions or {}).get("persistedQuery")
    if not isinstance(persisted, dict):
        return None
    digest = persisted.get("sha256Hash")
    if persisted.get("version") != 1 or not isinstance(digest, str) or len(digest) != 64:
        raise PersistedQueryError("PersistedQueryNotSupported", "PERSISTED_QUERY_NOT_SUPPORTED")
    return digest.lower()


async def resolve_persisted(store: CacheStore, data: GraphQLRequestData) -> GraphQLRequestData:
    """The request with its document: looked up by hash, or registered under it."""
    digest = requested_hash(data)
    if digest is None:
        return data
    key = store.keys.persisted_document(digest)
    if data.query is None:
        found = await store.run("persisted_query", lambda pipeline: pipeline.get(key))
        if not found or found[0] is None:
            raise PersistedQueryError("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        return replace(data, query=found[0].decode())
    if hashlib.sha256(data.query.encode()).hexdigest() != digest:
        raise PersistedQueryError(
            "provided sha does not match query", "PERSISTED_QUERY_HASH_MISMATCH"
        )
    query = data.query
    await store.run("persisted_query", lambda pipeline: pipeline.set(key, query, ex=KEPT_SECONDS))
    return data
