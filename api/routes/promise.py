"""The delivery promise, asked by checkout on every cart change."""

from fastapi import APIRouter, HTTPException, Request, status

from api import metrics, promise_tokens
from api.deps import Checkout, NowDep, SettingsDep
from domain.promise import Promise, PromiseRequest, promise, promise_time_refusal

router = APIRouter(prefix="/v1/promise", tags=["promise"])


@router.post("", response_model=Promise, dependencies=[Checkout])
async def promise_cart(
    request: PromiseRequest, http: Request, settings: SettingsDep, clock: NowDep
) -> Promise:
    """Delivery options for a cart with dates the OMS commits to (no I/O on this path)."""
    if request.at is not None and (doubt := promise_time_refusal(request.at, clock)):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, doubt)
    chain, policy = await http.app.state.supply_chain.get(clock)
    now = request.at or clock
    with metrics.PROMISE_SECONDS.time():
        answer = promise(request, chain, now, policy)
    cart = promise_tokens.cart_of(request.lines)
    expires = now + promise_tokens.OPTION_LIFETIME
    for option in answer.options:
        claim = promise_tokens.OptionClaim(
            method=option.method,
            store_id=option.store_id,
            promised_by=option.promised_by,
            cart=cart,
            expires=expires,
        )
        option.option_id = promise_tokens.issue(settings.option_key, claim)
    return answer
