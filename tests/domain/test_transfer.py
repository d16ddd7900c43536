"""A transfer's life, line by line, as a store manager and a warehouse lead would check it."""

from datetime import UTC, datetime

import pytest

from domain.transfer import (
    InvalidTransferEvent,
    Transfer,
    TransferConflict,
    TransferEvent,
    TransferLine,
    TransferStatus,
    apply,
    settle,
)

NOW = datetime(2026, 12, 8, 9, tzinfo=UTC)


def transfer(status: TransferStatus = TransferStatus.RELEASED, **line) -> Transfer:
    return Transfer(
        transfer_id="T-1",
        source_node_id="DC-PARIS",
        destination_node_id="STORE-LILLE",
        status=status,
        lines=[TransferLine(sku="GIFT", qty=20, supply_id="T-1.0", **line)],
        created_at=NOW,
        updated_at=NOW,
    )


def event(kind: str, qty: int | None = None, final: bool = True) -> TransferEvent:
    lines = [] if qty is None else [{"sku": "GIFT", "qty": qty}]
    return TransferEvent(
        event_id=f"E-{kind}", type=kind, transfer_id="T-1", lines=lines, final=final
    )


def step(t: Transfer, e: TransferEvent) -> tuple[list, str]:
    settled = settle(t, e)
    return settled, apply(t, e, settled, NOW)


def test_a_full_transfer_goes_picked_shipped_received():
    t = transfer()
    for kind in ("picked", "shipped", "received"):
        settled, _ = step(t, event(kind))
        assert settled[0].units == 20 and settled[0].gap == 0
    assert t.status == TransferStatus.RECEIVED
    assert (t.lines[0].picked, t.lines[0].shipped, t.lines[0].received) == (20, 20, 20)


def test_a_short_pick_writes_the_missing_units_off_and_leaves_a_gap():
    t = transfer()

    settled, said = step(t, event("picked", 16))

    assert (settled[0].written_off, settled[0].gap) == (4, 4)
    assert t.lines[0].written_off == 4 and t.status == TransferStatus.PICKED
    assert "4 not found" in said
    shipped, _ = step(t, event("shipped"))
    assert shipped[0].units == 16  # what was picked leaves


def test_short_picked_names_the_missing_units():
    t = transfer()

    settled, _ = step(t, event("short_picked", 5))

    assert (settled[0].units, settled[0].written_off) == (15, 5)


def test_units_picked_but_not_shipped_stay_at_the_source():
    t = transfer()
    step(t, event("picked"))

    settled, said = step(t, event("shipped", 18))

    assert (settled[0].stay, settled[0].gap) == (2, 2)
    assert "2 stayed there" in said


def test_a_final_receipt_short_of_what_was_shipped_is_a_loss_in_transit():
    t = transfer(TransferStatus.SHIPPED, picked=20, shipped=20)

    settled, said = step(t, event("received", 17))

    assert (settled[0].lost, settled[0].gap) == (3, 3)
    assert t.status == TransferStatus.RECEIVED and t.lines[0].lost == 3
    assert "3 lost in transit" in said


def test_a_partial_receipt_waits_for_the_rest():
    t = transfer(TransferStatus.SHIPPED, picked=20, shipped=20)

    settled, _ = step(t, event("received", 12, final=False))

    assert settled[0].lost == 0 and t.status == TransferStatus.SHIPPED
    assert t.in_transit == 8
    step(t, event("received"))
    assert t.lines[0].received == 20 and t.status == TransferStatus.RECEIVED


def test_steps_out_of_order_are_refused():
    with pytest.raises(TransferConflict):
        settle(transfer(), event("received"))
    with pytest.raises(TransferConflict):
        settle(transfer(TransferStatus.SHIPPED, picked=20, shipped=20), event("picked"))


def test_more_than_planned_or_an_unknown_sku_is_refused():
    with pytest.raises(InvalidTransferEvent):
        settle(transfer(), event("picked", 21))
    with pytest.raises(InvalidTransferEvent):
        settle(transfer(picked=10), event("shipped", 11))
    other = TransferEvent(
        event_id="E-x", type="picked", transfer_id="T-1", lines=[{"sku": "OTHER", "qty": 1}]
    )
    with pytest.raises(InvalidTransferEvent):
        settle(transfer(), other)


def test_a_short_pick_without_lines_is_refused_at_the_door():
    with pytest.raises(ValueError, match="short_picked needs"):
        TransferEvent(event_id="E", type="short_picked", transfer_id="T-1")
