"""An outcome's price: the first name matching case-insensitively, whatever the spelling."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.valuation import outcome_price

NAMES = st.sampled_from(["Yes", "yes", "YES", "No", "no", "Celtics", "Straße", "STRASSE", "ǅ"])


def first_match(outcomes: list[str], prices: list[Decimal], outcome: str) -> Decimal | None:
    """The rule, written plainly: walk the names in order, compare casefolded."""
    for name, price in zip(outcomes, prices, strict=False):
        if name.casefold() == outcome.casefold():
            return price
    return None


@given(
    outcomes=st.lists(NAMES, max_size=5),
    prices=st.lists(st.decimals(0, 1, places=4), max_size=6),
    outcome=NAMES,
)
def test_the_first_name_matching_in_any_case_gives_the_price(
    outcomes: list[str], prices: list[Decimal], outcome: str
) -> None:
    assert outcome_price(outcomes, prices, outcome) == first_match(outcomes, prices, outcome)


def test_an_earlier_name_in_another_case_wins_over_a_later_exact_one() -> None:
    prices = [Decimal("0.1"), Decimal("0.9")]
    assert outcome_price(["YES", "Yes"], prices, "Yes") == Decimal("0.1")
    assert outcome_price(["Yes", "No"], None, "Yes") is None
    assert outcome_price(["Yes", "No"], [Decimal("0.3")], "No") is None  # no price for it
