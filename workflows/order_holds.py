"""What an order holds outside its workflow, from workflow code: carrier bookings and
picking slots taken for its shipments, and given back with its stock holds."""

import asyncio

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.carriers import BookingRequest
    from activities.inventory import StockMovedResult
    from domain.order import OrderLine, Shipment
    from domain.order_lifecycle import IN_STORE_COLLECTION, OrderLifecycle
    from domain.sourcing import PlannedShipment
    from workflows import order_calls as call
    from workflows.failures import reason
    from workflows.patches import FEWER_TASKS


class OrderHolds:
    def __init__(self, order: OrderLifecycle, postal_code: str | None) -> None:
        self._order = order
        self._postal_code = postal_code

    async def book(self, made: list[tuple[Shipment, PlannedShipment]]) -> str | None:
        """Book each new shipment's carrier and picking slot, all at once (one wait for
        the server instead of several); why not, if a node has no slot left."""
        workflow.deprecate_patch(FEWER_TASKS)
        results = await asyncio.gather(
            *(self._book_carrier(shipment, planned) for shipment, planned in made),
            *(self._book_slot(shipment, planned) for shipment, planned in made),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, ActivityError):
                raise result
        failed = [r for r in results if isinstance(r, ActivityError)]
        return reason(failed[0]) if failed else None

    async def _book_carrier(self, shipment: Shipment, planned: PlannedShipment) -> None:
        if not (planned.carrier_id and planned.service_id):
            self._order.collect_at_store(shipment)
            return
        booking = await call.book_carrier(
            BookingRequest(
                shipment_id=shipment.shipment_id,
                carrier_id=planned.carrier_id,
                service_id=planned.service_id,
                node_id=planned.node_id,
                postal_code=self._postal_code,
                units=planned.units,
            )
        )
        self._order.booked(shipment, planned, booking)

    async def _book_slot(self, shipment: Shipment, planned: PlannedShipment) -> None:
        pick_on = planned.pick_on or planned.ship_on
        slot = await call.book_capacity(shipment.shipment_id, shipment.node_id, pick_on)
        self._order.slot_taken(shipment, pick_on, slot.day, slot.pick_by)

    async def take_back(self, shipment: Shipment, cause: str) -> list[OrderLine]:
        """Pull a shipment back from its node before it is picked: its stock hold, carrier
        booking and picking slot go back, and the node is told to stop."""
        await call.release_stock(self._order.view.order_id, shipment.node_id, shipment.hold_round)
        await self.withdraw(shipment)
        return self._order.taken_back(shipment, cause)

    async def withdraw(self, shipment: Shipment, unsure: bool = False) -> None:
        """The shipment will not leave: its carrier booking and picking slot go back.
        `unsure`: the order was stopped mid-step, a booking may exist that it never heard
        of, so the carrier is asked to cancel whatever it holds (it ignores what it has not)."""
        carrier = shipment.carrier_id
        booked = shipment.booking_ref is not None or (unsure and carrier != IN_STORE_COLLECTION)
        if booked and carrier is not None:
            await call.cancel_booking(shipment.shipment_id, carrier)
            self._order.booking_cancelled(shipment)
        await call.release_capacity(shipment.shipment_id)

    async def commit(self, shipment: Shipment) -> StockMovedResult:
        """The shipment left its node: its own holds leave the node's stock."""
        return await call.commit_stock(
            self._order.view.order_id, shipment.node_id, shipment.hold_round
        )

    async def release_stock(self) -> StockMovedResult:
        """Every hold of the order, at every node, back to stock."""
        return await call.release_stock(self._order.view.order_id)
