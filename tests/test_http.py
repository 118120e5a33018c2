"""GraphQL over HTTP as its spec says, and automatic persisted queries.

Media types and status codes as a client negotiates them: `application/graphql-response+json`
gets 4xx for a request that could not be executed; legacy `application/json` keeps 200. GET
runs queries only; other methods and media types are refused with their own status.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import orjson
import pytest

from settings import Settings
from tests.conftest import contract_documents, serving, unique_prefix

DOCUMENTS = contract_documents()
GRAPHQL_RESPONSE = "application/graphql-response+json"
NEW_STYLE = {"Accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"}


def codes(response: httpx.Response) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in response.json().get("errors") or []]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"query": "{ trendingMarkets(first: 1) { pageInfo { hasNextPage } } }"}, 200, None),
        ({"query": "{ trendingMarkets(first: "}, 400, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ noSuchField }"}, 400, "GRAPHQL_VALIDATION_FAILED"),
        (
            {"query": DOCUMENTS, "operationName": "Portfolio", "variables": {}},
            400,
            "BAD_USER_INPUT",
        ),
        # Executed, and refused by a resolver: a GraphQL answer, so 200 with data.
        (
            {"query": "{ trendingMarkets(first: 0) { pageInfo { hasNextPage } } }"},
            200,
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_graphql_response_media_type_and_status_codes(
    client: httpx.AsyncClient, seeded: str, body: dict[str, Any], status: int, code: str | None
) -> None:
    response = await client.post("/graphql", json=body, headers=NEW_STYLE)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert codes(response) == ([] if code is None else [code])
    assert ("data" in response.json()) is (status == 200)


async def test_legacy_json_keeps_200_for_every_graphql_answer(
    client: httpx.AsyncClient, seeded: str
) -> None:
    response = await client.post("/graphql", json={"query": "{ noSuchField }"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert codes(response) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_a_forbidden_operation_is_403_for_new_style_clients(
    settings: Settings, seeded: str
) -> None:
    keys = (("ingest", "i" * 32),)
    async with serving(settings.replace(api_keys=keys, cache_prefix=unique_prefix())) as http:
        response = await http.post(
            "/graphql",
            json={"query": "{ trendingMarkets(first: 1) { pageInfo { hasNextPage } } }"},
            headers={**NEW_STYLE, "Authorization": f"Bearer {'i' * 32}"},
        )
    assert response.status_code == 403
    assert codes(response) == ["FORBIDDEN"]


async def test_get_runs_queries_only(client: httpx.AsyncClient, seeded: str) -> None:
    query = await client.get(
        "/graphql", params={"query": "{ trendingMarkets(first: 1) { pageInfo { hasNextPage } } }"}
    )
    assert query.status_code == 200
    assert query.json()["data"]["trendingMarkets"]["pageInfo"]["hasNextPage"] is True
    mutation = await client.get(
        "/graphql", params={"query": "mutation { updateMarketPrices(updates: []) { updated } }"}
    )
    assert mutation.status_code == 405


async def test_other_methods_and_media_types_are_refused(
    client: httpx.AsyncClient, seeded: str
) -> None:
    put = await client.put("/graphql", json={"query": "{ __typename }"})
    assert put.status_code == 405
    text = await client.post(
        "/graphql", content="{ __typename }", headers={"Content-Type": "text/plain"}
    )
    assert text.status_code == 415
    batch = await client.post("/graphql", json=[{"query": "{ __typename }"}])
    assert batch.status_code == 400


# Automatic persisted queries


def persisted(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_a_persisted_query_is_registered_once_then_sent_as_a_hash(
    settings: Settings, seeded: str
) -> None:
    query = "query Trending { trendingMarkets(first: 2) { edges { node { id } } } }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    async with serving(settings.replace(cache_prefix=unique_prefix())) as http:
        unknown = await http.post("/graphql", json={"extensions": persisted(digest)})
        registered = await http.post(
            "/graphql", json={"query": query, "extensions": persisted(digest)}
        )
        by_hash = await http.post("/graphql", json={"extensions": persisted(digest)})
        by_get = await http.get(
            "/graphql", params={"extensions": orjson.dumps(persisted(digest)).decode()}
        )
        wrong = await http.post(
            "/graphql", json={"query": "{ __typename }", "extensions": persisted(digest)}
        )
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert codes(registered) == []
    assert by_hash.json() == registered.json()
    assert by_get.json()["data"] == registered.json()["data"]
    assert codes(wrong) == ["PERSISTED_QUERY_HASH_MISMATCH"]


async def test_a_hash_is_shared_by_every_process(settings: Settings, seeded: str) -> None:
    query = "{ trendingMarkets(first: 1) { pageInfo { hasNextPage } } }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    shared = settings.replace(cache_prefix=unique_prefix())
    async with serving(shared) as first:
        await first.post("/graphql", json={"query": query, "extensions": persisted(digest)})
    async with serving(shared) as second:
        answer = await second.post("/graphql", json={"extensions": persisted(digest)})
    assert codes(answer) == []
    assert answer.json()["data"]["trendingMarkets"]["pageInfo"]["hasNextPage"] is True
