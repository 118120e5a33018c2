"""A loader class is checked once, when it is defined: DataLoader checks every instance."""

from __future__ import annotations

import pytest

from loaders.cached_loader import CachedLoader


def test_a_loader_whose_batch_function_is_not_a_coroutine_is_refused_when_defined() -> None:
    with pytest.raises(TypeError, match="batch_load_fn must be a coroutine function"):

        class Blocking(CachedLoader[int, int]):
            def batch_load_fn(self, keys: list[int]) -> list[int]:  # type: ignore[override]
                return keys
