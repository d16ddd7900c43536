"""What the OMS accepts: the network document, a placed order, a stock event."""

import copy
import json
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from domain.errors import InvalidNetwork
from domain.inventory import InventoryEvent
from domain.network import NetworkDocument, Peak
from domain.order import PlaceOrder
from tests.networks import PROMISED, order_body, small_network

# The example of docs/network.md, as a reader copies it: the page must stay loadable.
NETWORK_PAGE = Path(__file__).resolve().parents[2] / "docs" / "network.md"
DOCS_EXAMPLE = NETWORK_PAGE.read_text().split("```json\n", 1)[1].split("```", 1)[0]


def network(**changes) -> dict:
    """The small test network, with top-level sections replaced or extended."""
    return small_network() | changes


def references_problem(doc: dict) -> str:
    parsed = NetworkDocument.model_validate(doc)
    with pytest.raises(InvalidNetwork) as raised:
        parsed.check_references()
    return str(raised.value)


# --- network document ---------------------------------------------------------------


def test_the_documented_example_parses_and_is_consistent():
    doc = NetworkDocument.model_validate_json(DOCS_EXAMPLE)
    doc.check_references()

    paris, lyon = doc.nodes
    assert paris.cutoff == time(15, 0)
    assert paris.carriers == ["DPD"]
    assert lyon.timezone == "Europe/Paris" and lyon.open_days[-1] == "sat"
    assert doc.carriers[0].services[0].transit_days(250) == 1
    assert doc.carriers[0].services[1].pickup_days == ["mon", "tue", "wed", "thu", "fri"]
    assert doc.supply[0].eta == date(2026, 12, 10)
    assert doc.calendar.holidays == [date(2026, 12, 25)]
    [christmas] = doc.calendar.peaks
    assert (christmas.from_, christmas.to) == (date(2026, 11, 20), date(2026, 12, 24))


def test_a_node_naming_a_carrier_the_document_does_not_define_is_reported():
    doc = json.loads(DOCS_EXAMPLE)
    doc["nodes"][0]["carriers"].append("COLISSIMO")

    problem = references_problem(doc)
    assert problem == "node DC-PARIS uses unknown carrier COLISSIMO"


def test_the_small_test_network_is_consistent():
    NetworkDocument.model_validate(small_network()).check_references()


def test_duplicate_node_ids_are_reported():
    doc = network()
    doc["nodes"].append(copy.deepcopy(doc["nodes"][0]))

    assert "duplicate node DC-PARIS" in references_problem(doc)


def test_unknown_carrier_on_a_node_is_reported():
    doc = network()
    doc["nodes"][1]["carriers"] = ["DPD", "UPS"]

    assert "node DC-LYON uses unknown carrier UPS" in references_problem(doc)


def test_stock_and_supply_for_unknown_sku_or_node_are_reported():
    doc = network()
    doc["stock"].append({"sku": "SKU-9", "node_id": "DC-PARIS", "on_hand": 1})
    doc["supply"].append(
        {
            "id": "PO-1",
            "kind": "purchase_order",
            "sku": "SKU-1",
            "node_id": "DC-NOWHERE",
            "qty": 5,
            "eta": "2026-12-01",
        }
    )

    problem = references_problem(doc)
    assert "unknown sku SKU-9" in problem
    assert "unknown node DC-NOWHERE" in problem


def test_every_problem_is_reported_at_once():
    doc = network()
    doc["skus"].append(copy.deepcopy(doc["skus"][0]))
    doc["stock"].append(copy.deepcopy(doc["stock"][0]))
    doc["carriers"].append(copy.deepcopy(doc["carriers"][0]))

    problem = references_problem(doc)
    assert "duplicate sku SKU-1" in problem
    assert "duplicate stock row SKU-1@DC-PARIS" in problem
    assert "duplicate carrier DPD" in problem
    assert "duplicate service DPD-STD" in problem


@pytest.mark.parametrize(
    ("section", "index", "field", "value"),
    [
        ("nodes", 0, "timezone", "Europe/Atlantis"),
        ("nodes", 0, "open_days", ["monday"]),
        ("nodes", 0, "open_days", []),
        ("nodes", 0, "cutoff", "25:00"),
        ("nodes", 0, "lat", 91),
        ("nodes", 0, "type", "depot"),
        ("nodes", 0, "id", "has space"),
        ("nodes", 0, "loading_bays", 4),
        ("stock", 0, "on_hand", -1),
        ("stock", 0, "safety_stock", -1),
        ("carriers", 0, "region", "FR"),
    ],
)
def test_malformed_fields_are_validation_errors(section, index, field, value):
    doc = network()
    doc[section][index][field] = value

    with pytest.raises(ValidationError) as raised:
        NetworkDocument.model_validate(doc)
    assert field in str(raised.value)


def test_bad_pickup_day_and_empty_band_list_are_validation_errors():
    changes: list[dict[str, Any]] = [{"pickup_days": ["someday"]}, {"bands": []}]
    for change in changes:
        doc = network()
        doc["carriers"][0]["services"][0].update(change)
        with pytest.raises(ValidationError):
            NetworkDocument.model_validate(doc)


def test_unknown_time_zone_is_named():
    doc = network()
    doc["nodes"][0]["timezone"] = "Europe/Atlantis"

    with pytest.raises(ValidationError, match="unknown time zone 'Europe/Atlantis'"):
        NetworkDocument.model_validate(doc)


def test_unknown_top_level_section_is_refused():
    with pytest.raises(ValidationError, match="returns"):
        NetworkDocument.model_validate(network(returns=[]))


def test_a_network_without_nodes_is_refused():
    with pytest.raises(ValidationError):
        NetworkDocument.model_validate(network(nodes=[]))


def test_peak_ending_before_it_starts_is_refused():
    with pytest.raises(ValidationError, match="ends before it starts"):
        Peak.model_validate({"name": "christmas", "from": "2026-12-24", "to": "2026-11-20"})

    doc = network(calendar={"peaks": [{"name": "sales", "from": "2027-01-20", "to": "2027-01-06"}]})
    with pytest.raises(ValidationError, match="ends before it starts"):
        NetworkDocument.model_validate(doc)


def test_one_day_peak_is_accepted():
    peak = Peak.model_validate({"name": "black friday", "from": "2026-11-27", "to": "2026-11-27"})
    assert peak.from_ == peak.to == date(2026, 11, 27)


# --- placing an order ---------------------------------------------------------------


def test_a_checkout_body_is_accepted():
    order = PlaceOrder.model_validate(order_body("A-1", [("SKU-1", 2), ("SKU-2", 1)]))

    assert order.units == 3
    assert order.delivery.promised_by == PROMISED


def test_home_delivery_needs_an_address():
    with pytest.raises(ValidationError, match="home delivery needs an address"):
        PlaceOrder.model_validate(order_body("A-1", [("SKU-1", 1)], address=None))


def test_click_and_collect_needs_a_store():
    with pytest.raises(ValidationError, match="click and collect needs a store_id"):
        PlaceOrder.model_validate(
            order_body("A-1", [("SKU-1", 1)], method="click_and_collect", address=None)
        )

    order = PlaceOrder.model_validate(
        order_body(
            "A-1", [("SKU-1", 1)], method="click_and_collect", address=None, store_id="STORE-LILLE"
        )
    )
    assert order.delivery.store_id == "STORE-LILLE"


def test_duplicate_line_ids_are_refused():
    body = order_body("A-1", [("SKU-1", 1), ("SKU-2", 1)])
    body["lines"][1]["line_id"] = body["lines"][0]["line_id"]

    with pytest.raises(ValidationError, match="line_id must be unique"):
        PlaceOrder.model_validate(body)


@pytest.mark.parametrize("qty", [0, -1, 10_001])
def test_line_quantity_out_of_range_is_refused(qty):
    with pytest.raises(ValidationError):
        PlaceOrder.model_validate(order_body("A-1", [("SKU-1", qty)]))


def test_an_order_without_lines_or_with_an_unknown_method_is_refused():
    with pytest.raises(ValidationError):
        PlaceOrder.model_validate(order_body("A-1", []))
    with pytest.raises(ValidationError):
        PlaceOrder.model_validate(order_body("A-1", [("SKU-1", 1)], method="drone"))


# --- stock events from the field ----------------------------------------------------


def event(type_: str, qty: int) -> InventoryEvent:
    return InventoryEvent(event_id="E-1", type=type_, sku="SKU-1", node_id="DC-PARIS", qty=qty)


@pytest.mark.parametrize(
    ("type_", "qty", "message"),
    [
        ("sale", 0, "a sale needs a positive qty"),
        ("sale", -2, "a sale needs a positive qty"),
        ("receipt", 0, "a receipt needs a positive qty"),
        ("count", -1, "a count cannot be negative"),
        ("adjustment", 0, "an adjustment of 0 changes nothing"),
    ],
)
def test_stock_event_quantity_must_fit_its_type(type_, qty, message):
    with pytest.raises(ValidationError, match=message):
        event(type_, qty)


def test_unknown_stock_event_type_is_refused():
    with pytest.raises(ValidationError):
        event("theft", 1)


@pytest.mark.parametrize(
    ("type_", "qty", "on_hand", "delta"),
    [
        ("sale", 2, 10, -2),
        ("receipt", 5, 10, 5),
        ("adjustment", -3, 10, -3),
        ("adjustment", 4, 10, 4),
        ("count", 7, 10, -3),
        ("count", 12, 10, 2),
        ("count", 0, 10, -10),
    ],
)
def test_on_hand_delta_of_each_event_type(type_, qty, on_hand, delta):
    assert event(type_, qty).on_hand_delta(on_hand) == delta
