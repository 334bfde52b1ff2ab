"""The percentage of the GPU a job takes never rounds across 100% (a "does not fit" shown as 100%)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmcatalog.values.render import share


@given(part=st.integers(0, 2**50), whole=st.integers(1, 2**50))
def test_the_shown_share_is_on_the_right_side_of_100(part: int, whole: int) -> None:
    shown = float(share(part, whole).rstrip("%"))
    if part > whole:
        assert shown > 100
    elif part < whole:
        assert shown < 100
    else:
        assert shown == 100


def test_examples_from_the_rtx_4090() -> None:
    gib = 2**30
    assert share(round(23.70 * gib), round(23.60 * gib)) == "100.4%"
    assert share(round(23.58 * gib), round(23.60 * gib)) == "99.9%"
    assert share(10, 20) == "50%"


def test_zero_whole_is_refused() -> None:
    with pytest.raises(ValueError, match="whole"):
        share(1, 0)
