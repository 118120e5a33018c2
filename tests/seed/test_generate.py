import random
from collections import Counter
from decimal import Decimal

import pytest

from seed.generate import (
    BASE_TIME,
    SeedPosition,
    generate_positions,
    generate_users,
    heavy_user_count,
)
from seed.load import DEFAULT_SNAPSHOT
from seed.snapshot import Snapshot, SnapshotMarket, read_snapshot


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    return read_snapshot(DEFAULT_SNAPSHOT)


def generate(snapshot: Snapshot, users: int, seed: int) -> list[SeedPosition]:
    rng = random.Random(seed)
    return list(generate_positions(generate_users(users, rng), snapshot.markets, rng))


def test_same_seed_same_rows(snapshot: Snapshot) -> None:
    assert generate_users(300, random.Random(5)) == generate_users(300, random.Random(5))
    assert generate(snapshot, 300, seed=5) == generate(snapshot, 300, seed=5)
    assert generate(snapshot, 300, seed=5) != generate(snapshot, 300, seed=6)


def test_users_look_like_telegram_users() -> None:
    users = generate_users(1000, random.Random(1))
    telegram_ids = [user.telegram_id for user in users]
    assert len(set(telegram_ids)) == 1000
    assert all(telegram_id > 0 for telegram_id in telegram_ids)
    assert any(telegram_id > 2**32 for telegram_id in telegram_ids)
    assert any(user.username is None for user in users)
    addresses = [user.polygon_address for user in users if user.polygon_address is not None]
    assert 200 < len(addresses) < 400
    assert all(len(address) == 42 and address.startswith("0x") for address in addresses)
    assert all(user.created_at < BASE_TIME for user in users)


@pytest.mark.parametrize(("users", "heavy"), [(0, 0), (19, 0), (20, 1), (200, 2), (10_000, 100)])
def test_heavy_user_count(users: int, heavy: int) -> None:
    assert heavy_user_count(users) == heavy


def test_positions_keep_every_invariant(snapshot: Snapshot) -> None:
    markets = {market.id: market for market in snapshot.markets}
    positions = generate(snapshot, 500, seed=3)
    per_user = Counter(position.telegram_id for position in positions)
    assert sum(1 <= count <= 20 for count in per_user.values()) == 500 - heavy_user_count(500)
    assert sum(200 <= count <= 1000 for count in per_user.values()) == heavy_user_count(500)

    active_keys = Counter(
        (p.telegram_id, p.market_id, p.outcome) for p in positions if p.status == "ACTIVE"
    )
    assert max(active_keys.values()) == 1
    for p in positions:
        market = markets[p.market_id]
        assert market.outcome_prices is not None
        assert p.outcome in market.outcomes
        assert Decimal("0.001") <= p.entry_price <= Decimal("0.999")
        assert p.entry_price == p.entry_price.quantize(Decimal("0.0001"))
        assert p.opened_at < BASE_TIME
        if p.status == "ACTIVE":
            assert Decimal(1) <= p.shares <= Decimal(5000)
            assert p.shares == p.shares.quantize(Decimal("0.01"))
            assert p.closed_at is None
            assert p.realized_pnl == 0
            if p.take_profit_price is not None:
                assert p.entry_price < p.take_profit_price < 1
            if p.stop_loss_price is not None:
                assert 0 < p.stop_loss_price < p.entry_price
        else:
            assert p.shares == 0
            assert p.closed_at is not None
            assert p.opened_at < p.closed_at < BASE_TIME
            assert p.realized_pnl != 0
            assert p.take_profit_price is None
            assert p.stop_loss_price is None
        for value in (p.shares, p.entry_price, p.realized_pnl):
            assert type(value) is Decimal


def test_positions_have_the_intended_mix(snapshot: Snapshot) -> None:
    active_markets = {market.id for market in snapshot.markets if market.active}
    positions = generate(snapshot, 2000, seed=4)
    closed = [p for p in positions if p.status == "CLOSED"]
    active = [p for p in positions if p.status == "ACTIVE"]
    with_targets = [p for p in active if p.take_profit_price or p.stop_loss_price]
    both = [p for p in active if p.take_profit_price and p.stop_loss_price]
    assert 0.12 < len(closed) / len(positions) < 0.18
    assert 0.17 < len(with_targets) / len(active) < 0.23
    assert both
    on_active = sum(p.market_id in active_markets for p in positions)
    assert 0.85 < on_active / len(positions) < 0.95
    named = {p.outcome for p in positions} - {"Yes", "No"}
    assert named


def test_a_tiny_snapshot_cannot_trap_a_heavy_user() -> None:
    market = SnapshotMarket(
        id="1",
        title="Only market?",
        slug="only-market",
        condition_id="0x" + "ab" * 32,
        outcomes=["Boy", "Girl"],
        outcome_prices=[Decimal("0.4"), Decimal("0.6")],
        clob_token_ids=["1", "2"],
        volume=Decimal(0),
        liquidity=Decimal(0),
        end_date=None,
        active=True,
    )
    rng = random.Random(2)
    positions = list(generate_positions(generate_users(20, rng), [market], rng))
    active = Counter((p.telegram_id, p.outcome) for p in positions if p.status == "ACTIVE")
    assert max(active.values()) == 1
    assert max(Counter(p.telegram_id for p in positions).values()) >= 200


def test_positions_need_a_priced_market() -> None:
    users = generate_users(1, random.Random(1))
    with pytest.raises(ValueError, match="no market has prices"):
        generate_positions(users, [], random.Random(1))
