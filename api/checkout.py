"""What checkout may place: the order's references known, its date not past, and, placed
with an option of the promise, held to that option's date, method and store."""

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session

from api import promise_tokens
from db.network import known_skus, read_node
from domain.errors import InvalidOrder, UnknownReference
from domain.order import PlaceOrder


def order_to_place(
    session: Session, order: PlaceOrder, secret: str, timezone: str, now: datetime
) -> PlaceOrder:
    """The order as it will be placed, or a refusal before anything starts."""
    order = hold_to_option(order, secret, now)
    check_order(session, order, timezone, now)
    return order


def check_order(session: Session, order: PlaceOrder, timezone: str, now: datetime) -> None:
    """Refuse an order that names what the OMS does not know, or a day already gone."""
    skus = [line.sku for line in order.lines]
    unknown = sorted(set(skus) - known_skus(session, skus))
    if unknown:
        raise UnknownReference(f"unknown sku: {', '.join(unknown)}")
    delivery = order.delivery
    if delivery.method == "click_and_collect":
        store = read_node(session, delivery.store_id or "")
        if store is None or not store.click_and_collect:
            raise InvalidOrder(f"{delivery.store_id} is not a click-and-collect store")
    today = now.astimezone(ZoneInfo(timezone)).date()
    if delivery.promised_by is not None and delivery.promised_by < today:
        raise InvalidOrder(f"promised_by {delivery.promised_by} is in the past")


def hold_to_option(order: PlaceOrder, secret: str, now: datetime) -> PlaceOrder:
    """An order placed with a promise's option is held to that option's date (and its
    service: an express option ships express)."""
    delivery = order.delivery
    if delivery.option_id is None:
        return order
    try:
        claim = promise_tokens.read(secret, delivery.option_id, now)
    except promise_tokens.BadOption as exc:
        raise InvalidOrder(str(exc)) from exc
    except ValueError as exc:
        raise InvalidOrder("unknown delivery option") from exc
    method = "click_and_collect" if claim.method == "click_and_collect" else "home"
    if promise_tokens.cart_of(order.lines) != claim.cart:
        raise InvalidOrder(
            "the delivery option was promised for another cart: ask for a new promise"
        )
    if method != delivery.method or (
        method == "click_and_collect" and claim.store_id != delivery.store_id
    ):
        at = f" at {claim.store_id}" if claim.store_id else ""
        raise InvalidOrder(f"the delivery option is {claim.method}{at}, not what the order asks")
    if delivery.promised_by is not None and delivery.promised_by != claim.promised_by:
        raise InvalidOrder(
            f"promised_by {delivery.promised_by} differs from the option's {claim.promised_by}"
        )
    service = "express" if claim.method == "home_express" else "standard"
    held = delivery.model_copy(update={"promised_by": claim.promised_by, "service": service})
    return order.model_copy(update={"delivery": held})
