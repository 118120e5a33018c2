"""The worker's settings come from the environment, once; a bad one fails with its name."""

from __future__ import annotations

import pytest

from settings import Settings, SettingsError


def test_the_worker_reads_its_variables() -> None:
    settings = Settings.from_env(
        {
            "FEED_URL": "ws://127.0.0.1:9000/ws/market",
            "INGEST_FLUSH_INTERVAL": "0.5",
            "INGEST_PING_INTERVAL": "2",
            "INGEST_TOP_MARKETS": "250",
            "INGEST_REFRESH_INTERVAL": "3",
            "INGEST_METRICS_PORT": "9109",
            "TRIGGER_STREAM": "trading:triggers",
            "TRIGGER_RETRY_AFTER": "12",
            "INGEST_TOKENS_PER_CONNECTION": "250",
        }
    )
    assert settings.ingest_tokens_per_connection == 250
    assert (
        settings.feed_url,
        settings.ingest_flush_interval,
        settings.ingest_ping_interval,
        settings.ingest_top_markets,
        settings.ingest_refresh_interval,
        settings.ingest_metrics_port,
        settings.trigger_stream_key,
        settings.trigger_retry_after,
    ) == ("ws://127.0.0.1:9000/ws/market", 0.5, 2.0, 250, 3.0, 9109, "trading:triggers", 12.0)


def test_defaults_follow_polymarket_and_the_cache_prefix() -> None:
    settings = Settings.from_env({"CACHE_PREFIX": "prod"})
    assert settings.feed_url == "wss://ws-subscriptions-clob.polymarket.com/ws/market"
    assert settings.ingest_flush_interval == 1.0
    assert settings.ingest_tokens_per_connection == 500
    assert settings.trigger_stream_key == "prod:triggers"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FEED_URL", "https://example.com/ws"),
        ("INGEST_FLUSH_INTERVAL", "0"),
        ("INGEST_PING_INTERVAL", "soon"),
        ("INGEST_TOP_MARKETS", "-1"),
        ("INGEST_METRICS_PORT", "70000"),
        ("TRIGGER_RETRY_AFTER", "-5"),
        ("INGEST_TOKENS_PER_CONNECTION", "0"),
        ("INGEST_TOKENS_PER_CONNECTION", "-3"),
        ("INGEST_TOKENS_PER_CONNECTION", "five hundred"),
        ("INGEST_TOKENS_PER_CONNECTION", "2.5"),
    ],
)
def test_a_bad_value_fails_at_start_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
