"""Sequences of inventory calls (the stateful links of the document: a write's answer leads to the next call),
checked against a model of what the API must answer: the ETag moves exactly when the car changes, a stale
If-Match is refused, a retired car stays retired, and a retry with the same Idempotency-Key changes nothing."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.api.conftest import bearer
from tests.factories import make_vin

URL = "/api/v1/inventory/vehicles"
COLOURS = ("pearl-white", "flame-red")
STATUSES = ("in_stock", "demo_fleet", "sold")


def test_inventory_call_sequences_follow_the_rules(client, catalog, shanghai_key):
    trim_id = catalog.trims[0].id

    class Inventory(RuleBasedStateMachine):
        @initialize()
        def create(self) -> None:
            self.vin = make_vin()
            self.state = {"colour": "pearl-white", "status": "in_stock"}
            self.version, self.retired = 1, False
            answer = self.put(self.state, if_match=None)
            assert answer.status_code == 201 and answer.headers["ETag"] == '"1"'

        def put(self, values, *, if_match, idem=None):  # type: ignore[no-untyped-def]
            headers = bearer(shanghai_key)
            if if_match is not None:
                headers["If-Match"] = if_match
            if idem is not None:
                headers["Idempotency-Key"] = idem
            body = {"trim_id": trim_id, "dealer": "SH-1", **values}
            return client.put(f"{URL}/{self.vin}", json=body, headers=headers)

        @rule(colour=st.sampled_from(COLOURS), status=st.sampled_from(STATUSES), retry=st.booleans())
        def update_with_the_current_etag(self, colour: str, status: str, retry: bool) -> None:
            wanted = {"colour": colour, "status": status}
            idem, if_match = uuid.uuid4().hex, f'"{self.version}"'
            answer = self.put(wanted, if_match=if_match, idem=idem)
            if self.retired:
                assert answer.status_code == 409
                return
            assert answer.status_code == 200
            if wanted != self.state:
                self.version += 1
            self.state = wanted
            assert answer.headers["ETag"] == f'"{self.version}"'
            if retry:  # the same request again: the first answer, nothing changed twice
                again = self.put(wanted, if_match=if_match, idem=idem)
                assert again.headers.get("Idempotent-Replayed") == "true" and again.get_json() == answer.get_json()

        @rule(colour=st.sampled_from(COLOURS), behind=st.integers(min_value=1, max_value=3))
        def update_with_a_stale_etag(self, colour: str, behind: int) -> None:
            answer = self.put({"colour": colour, "status": "in_stock"}, if_match=f'"{self.version - behind}"')
            assert answer.status_code == 412

        @rule()
        def retire(self) -> None:
            answer = client.post(f"{URL}/{self.vin}/retire", headers=bearer(shanghai_key, **{"If-Match": "*"}))
            if self.retired:
                assert answer.status_code == 409
            else:
                assert answer.status_code == 200
                self.version += 1
                self.retired = True

        @invariant()
        def the_vehicle_reads_as_the_model_says(self) -> None:
            if not hasattr(self, "vin"):
                return
            read = client.get(f"{URL}/{self.vin}", headers=bearer(shanghai_key))
            assert read.headers["ETag"] == f'"{self.version}"'
            body = read.get_json()
            assert body["status"] == ("retired" if self.retired else self.state["status"])
            assert body["colour"] == self.state["colour"]

    Inventory.TestCase.settings = settings(max_examples=6, stateful_step_count=8, deadline=None,
                                           suppress_health_check=list(HealthCheck))
    Inventory.TestCase().runTest()
