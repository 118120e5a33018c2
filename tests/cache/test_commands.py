"""Redis commands per request, as Redis counts them: on a Redis of the test's own, INFO
commandstats, which counts the commands a Lua script calls too.

A Portfolio on a warm cache costs a few commands whatever its positions. A cold one costs the
same few, plus two SETs per entry it fills (the entry, and its version: created here, since the
cache is empty), which is the floor with Redis 7.0 (docs/cache.md, "Commands per request"). So
the test counts every command but SET, which must not move between 1 position and 20 (each on a
market of its own, as bot users hold them), and SET, which must be exactly two per entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import asyncpg
import pytest

from settings import Settings
from tests.cache.redis_servers import RedisServer, running_server
from tests.conftest import GraphQLClient, contract_documents, serving, unique_prefix
from tests.factories import insert_holder

DOCUMENTS = contract_documents()

# What the measurement and a connection's first use send, not the request.
NOT_THE_REQUEST = {"info", "hello", "client|setinfo"}

# Every command but SET, cold and warm (eval and evalsha counted as one: "script").
# Kept answers: the look-up (a script, its MGET of the answer and the epoch, and when found,
# its MGET of the versions); then, cold, the loaders as without answers, and the keep (a SET).
# Without: each of the three loaders (user, positions, markets) reads with one MGET (the first
# with the epoch); cold, each fills with one script, which reads its versions with one MGET.
OTHERS = {
    True: {"cold": {"script": 4, "mget": 7}, "warm": {"script": 1, "mget": 2}},
    False: {"cold": {"script": 3, "mget": 6}, "warm": {"mget": 3}},
}
# The most a cold Portfolio of 20 positions on 20 markets may cost, all commands together.
COLD_PORTFOLIO_20 = {True: 56, False: 53}


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_server(tmp_path_factory.mktemp("redis-commands")) as server:
        yield server


def commands(server: RedisServer) -> Counter[str]:
    with server.client() as client:
        stats = client.info("commandstats")
    counted: Counter[str] = Counter()
    for name, stat in stats.items():
        command = name.removeprefix("cmdstat_")
        if command not in NOT_THE_REQUEST:
            counted["script" if command in ("eval", "evalsha") else command] += stat["calls"]
    return counted


async def cold_and_warm(
    settings: Settings, own_redis: RedisServer, telegram_id: str, answers: bool
) -> tuple[Counter[str], Counter[str]]:
    """The commands of a Portfolio on an empty cache, then of the same request again."""
    fresh = settings.replace(
        redis_url=own_redis.url,
        cache_prefix=unique_prefix(),
        answer_cache=answers,
        read_ahead=False,
    )
    costs = []
    async with serving(fresh) as http:
        gql = GraphQLClient(http)
        for _ in ("cold", "warm"):
            before = commands(own_redis)
            answer = await gql(DOCUMENTS, {"telegramId": telegram_id}, "Portfolio")
            assert answer.errors == []
            costs.append(commands(own_redis) - before)
    cold, warm = costs
    return cold, warm


@pytest.mark.parametrize("answers", [True, False], ids=["answers", "loaders"])
async def test_a_portfolio_costs_the_same_commands_but_two_sets_per_entry_filled(
    settings: Settings,
    seeded: str,
    db: asyncpg.Connection,
    own_redis: RedisServer,
    new_telegram_id: Callable[[], str],
    answers: bool,
) -> None:
    for positions in (1, 20):
        holder = await insert_holder(db, new_telegram_id(), positions, per_market=1)
        cold, warm = await cold_and_warm(settings, own_redis, holder.telegram_id, answers)
        entries = 2 + positions  # the user, the list of positions, a market per position
        sets = cold.pop("set", 0)
        assert sets == 2 * entries + answers  # + the kept answer
        assert dict(cold) == OTHERS[answers]["cold"], positions
        assert dict(warm) == OTHERS[answers]["warm"], positions
        if positions == 20:
            assert sets + cold.total() <= COLD_PORTFOLIO_20[answers]
