"""``GET /v1/addresses/{address}``: one address in the lookup contract, as the caller's role may see it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ...address import Address, try_parse
from ...answers.lookup import address_chains, check_chain, explain_paths, lookup_one, store_chains
from ...errors import ChainriskError, StoreError, UsageError
from ...labels.chains import EVM_LABEL_CHAINS
from ..answers import answer_one
from ..errors import ApiError
from ..http import MAX_ADDRESS_TEXT, State, caller, error_responses, json_response, note, raw_json
from ..keys import ApiKey
from ..policy import redact
from ..state import ServiceState

router = APIRouter(tags=["screening"])


#: per store and run: whether the store has EVM addresses or labels on more than one chain (then an EVM address
#: may need a combined answer, which the library assembles; a one-chain store keeps the in-memory fast path)
_MULTI: dict[tuple[int, str], bool] = {}


def _multi_chain_store(st: object, run_id: str) -> bool:
    key = (id(st), run_id)
    hit = _MULTI.get(key)
    if hit is None:
        chains = [c for c in store_chains(st) if c in EVM_LABEL_CHAINS]   # type: ignore[arg-type]
        hit = _MULTI[key] = len(chains) > 1
    return hit


@router.get("/v1/addresses/{address}", summary="Look up one address (lookup contract)",
            responses=error_responses(403, 422, 503))
async def get_address(request: Request, state: State, address: str, explain: bool = False,
                      chain: str | None = None) -> Response:
    """An EVM address is answered on every chain where the store has activity or labels of it, with a combined
    verdict (``per_chain``, ``chains``; ``chain`` is ``evm``); ``?chain=bsc`` narrows it to one chain."""
    key = caller(request)
    note(request, subject=address[:MAX_ADDRESS_TEXT], n_addresses=1)
    if explain and key.role != "admin":
        raise ApiError("forbidden", "evidence paths (explain) need an admin key (no tipping-off policy)")
    parsed = try_parse(address)
    if not isinstance(parsed, Address):
        raise ApiError("invalid_address", f"{parsed.reason} (got {address[:MAX_ADDRESS_TEXT]!r})")
    note(request, subject=parsed.address)
    if chain is not None:
        try:
            chain = check_chain(chain)
        except UsageError as e:
            raise ApiError("invalid_request", str(e)) from None
        if chain == parsed.chain:
            chain = None   # the address's own chain: the usual answer
    if chain is not None or parsed.chain != "tron":
        run_id = state.pin.peek()
        if chain is not None or run_id is None or explain or _multi_chain_store(state.thread_store(), run_id):
            return await run_in_threadpool(_library, request, state, key, address, parsed, explain, chain)
    if not explain:
        # fast path, in the event loop: the pinned run is fresh, held in memory, and this address needs no
        # query (no labels, exposures or indicators); everything else goes to a worker thread
        run_id = state.pin.peek()
        cache = state.cache.ready(run_id) if run_id is not None else None
        if cache is not None:
            body = cache.answer_inline(parsed, address, key.role == "admin", state.provenances)
            if body is not None:
                note(request, run_id=run_id)
                return raw_json(body)
    return await run_in_threadpool(_lookup, request, state, key, address, parsed, explain)


def _library(request: Request, state: ServiceState, key: ApiKey, address: str, parsed: Address, explain: bool,
             chain: str | None) -> Response:
    """The library's answer (over every chain of an EVM address, or narrowed to ``chain``), redacted for the
    caller's role; the service's single-chain fast paths when the address is on one chain only."""
    st = state.thread_store()
    run_id = state.pin.get(st)
    if chain is None and parsed.chain != "tron" and set(address_chains(st, parsed.address)) <= {"ethereum"}:
        return _lookup(request, state, key, address, parsed, explain)
    note(request, run_id=run_id)
    try:
        found = lookup_one(st, address, state.provenances.provenance(st, run_id), explain=explain, chain=chain)
    except ChainriskError as e:
        if isinstance(e, StoreError):
            raise
        raise ApiError("unavailable", str(e)) from None
    if found.status == "invalid":
        raise ApiError("invalid_address", found.reason)
    return json_response(redact(found.to_dict(), key.role))


def _lookup(request: Request, state: ServiceState, key: ApiKey, address: str, parsed: Address,
            explain: bool) -> Response:
    st = state.thread_store()
    run_id = state.pin.get(st)
    note(request, run_id=run_id)
    if not explain:
        admin = key.role == "admin"
        cache = state.cache.get(run_id)
        body = cache.answer(st, parsed, address, admin, state.provenances) if cache is not None else None
        if body is None:  # not scored in the run (unknown), or the cache is not built yet
            body = answer_one(st, parsed, address, admin, state.provenances, run_id)
        return raw_json(body)
    try:
        found = lookup_one(st, address, state.provenances.provenance(st, run_id))
        if found.status == "ok":
            # evidence paths of a complete run are immutable; the module caches them in its own transaction
            found.evidence = explain_paths(st, parsed.address, run_id)
    except ChainriskError as e:
        if isinstance(e, StoreError):
            raise
        raise ApiError("unavailable", str(e)) from None
    return json_response(redact(found.to_dict(), key.role))
