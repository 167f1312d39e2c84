"""Launch day, CI-sized: 500 shoppers press "order" within two seconds for an edition of 50 (gunicorn on
PostgreSQL): exactly 50 numbers held, each once, the rest waitlisted, no 5xx, the catalog still answering."""

from __future__ import annotations

import pytest

from models import PresaleOrderStatus
from tests.system.conftest import LiveStore
from tests.system.presale_spike import run_spike


@pytest.mark.slow
def test_a_launch_spike_holds_every_number_once_and_waitlists_the_rest(start_store) -> None:  # type: ignore[no-untyped-def]
    store: LiveStore = start_store(workers=3)

    result = run_spike(store, shoppers=500, edition=50, ramp_s=2.0, connections=24)
    print(result.table())

    assert result.server_errors == 0
    assert result.statuses == {303: 500}  # every shopper got an answer: their order page
    assert result.orders == {PresaleOrderStatus.HELD: 50, PresaleOrderStatus.WAITLISTED: 450}
    assert sorted(result.numbers) == list(range(1, 51))
    assert result.browse_statuses and all(status < 500 for status in result.browse_statuses)
