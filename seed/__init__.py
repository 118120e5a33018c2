"""Demo and test data: the real market snapshot, plus users and positions generated from a seed."""

from seed.load import PositionCounts, SeedReport, seed_database

__all__ = ["PositionCounts", "SeedReport", "seed_database"]
