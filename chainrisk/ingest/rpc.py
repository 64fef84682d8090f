"""Node ingestion: ERC-20 ``Transfer`` logs and issuer blacklist events of registered tokens, from any Ethereum
JSON-RPC node into the store, fast, resumably and without loss.

The pipeline (see ``docs/ingest-rpc.md``):

1. **check** the stored tip against the node (reorg: find the fork point, delete everything above it);
2. **plan** the block ranges not yet recorded in ``ingest_ranges`` for each token, below
   ``latest - confirmations``;
3. **fetch** with ``concurrency`` threads: one ``eth_getLogs`` per block range for all tokens at once (topic0 is
   an OR-list of ``Transfer`` and the four blacklist events), ranges that grow while answers are small and split
   when the node refuses them (:class:`chainrisk.ingest.node.RangeTooLarge`); block times come from the logs when the
   node includes ``blockTimestamp``, else from batched ``eth_getBlockByNumber`` for the blocks that have logs;
   each range's last block header is recorded too, so a later run can detect a reorg; answers are parsed (Arrow's
   JSON reader) and the Transfer logs decoded column-wise (Arrow compute and numpy) on one decoder thread, so
   the fetch threads keep ``concurrency`` requests in flight;
4. **store** on one writer thread: the decoded Arrow table is inserted with one ``INSERT ... SELECT`` (blacklist
   events are decoded in SQL from the few other logs), and transfers, blacklist events, block hashes and the
   completed ranges commit in ONE transaction, so a killed run loses at most the uncommitted ranges and a rerun fetches exactly those.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..chains import ChainSpec, check_chain_id, get_chain
from ..errors import InputError, SourceUnavailable, UsageError
from ..store import Store, Token
from .logs_fast import transfer_columns
from .node import RangeTooLarge, RpcClient, logs_table, mask_url
from .rpc_store import (  # noqa: F401  (the event topics are re-exported)
    ADDED_BLACK_LIST,
    BLACKLISTED,
    REMOVED_BLACK_LIST,
    STREAM,
    TOPICS,
    TRANSFER,
    UN_BLACKLISTED,
    Chunk,
    check_reorg,
    commit_chunks,
    compact_ranges,
    decode_transfers,
    transfers_of_columns,
)

log = logging.getLogger(__name__)

ProgressCallback = Callable[["Progress"], None]

#: The writer also commits when it would idle and at least ``commit_logs / IDLE_COMMIT_DIVISOR`` logs wait.
IDLE_COMMIT_DIVISOR = 2


@dataclass(frozen=True)
class Progress:
    """Passed to the ``progress`` callback after every fetched block range."""

    blocks_done: int
    blocks_total: int
    logs: int
    transfers_stored: int


@dataclass
class IngestReport:
    """What a node ingestion run did. ``rpc_url`` is masked (URLs carry API keys)."""

    rpc_url: str
    chain: str
    chain_id: int | None = None
    tokens: list[str] = field(default_factory=list)
    latest_block: int | None = None
    confirmations: int = 12
    finalized_block: int | None = None
    from_block: int = 0
    to_block: int | None = None
    requested_to_block: int | None = None
    ranges_planned: int = 0
    blocks_planned: int = 0
    blocks_done: int = 0
    requests: int = 0
    retries: int = 0
    splits: int = 0
    logs_fetched: int = 0
    transfers_added: int = 0
    blacklist_events_added: int = 0
    blocks_added: int = 0
    logs_skipped: int = 0
    commits: int = 0
    reorg_fork_block: int | None = None
    reorg_deleted_transfers: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def logs_per_second(self) -> float:
        return self.logs_fetched / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["logs_per_second"] = round(self.logs_per_second, 1)
        d["seconds"] = round(self.seconds, 3)
        return d


# -- planning ----------------------------------------------------------------------------------------------


def _subtract(lo: int, hi: int, covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[lo, hi] minus the union of ``covered`` intervals (inclusive bounds)."""
    out = []
    cur = lo
    for a, b in sorted(covered):
        if b < cur:
            continue
        if a > hi:
            break
        if a > cur:
            out.append((cur, a - 1))
        cur = max(cur, b + 1)
        if cur > hi:
            break
    if cur <= hi:
        out.append((cur, hi))
    return out


def plan_ranges(store: Store, chain: str, contracts: Sequence[str], lo: int, hi: int) -> list[tuple[tuple[str, ...], int, int]]:
    """The block ranges in [lo, hi] not yet ingested, as (contracts missing them, from, to), merged so that
    contracts with the same gaps share one ``eth_getLogs`` range."""
    if hi < lo or not contracts:
        return []
    rows = store.execute(
        "SELECT contract, from_block, to_block FROM ingest_ranges WHERE chain = ? AND stream = ?"
        " AND to_block >= ? AND from_block <= ?", [chain, STREAM, lo, hi]
    ).fetchall()
    covered: dict[str, list[tuple[int, int]]] = {c: [] for c in contracts}
    for c, a, b in rows:
        if c in covered:
            covered[c].append((a, b))
    missing = {c: _subtract(lo, hi, covered[c]) for c in contracts}
    bounds = sorted({lo, hi + 1} | {a for m in missing.values() for a, _ in m} | {b + 1 for m in missing.values()
                                                                                  for _, b in m})
    segs: list[tuple[tuple[str, ...], int, int]] = []
    for a, nxt in itertools.pairwise(bounds):
        b = nxt - 1
        need = tuple(sorted(c for c in contracts if any(x <= a and b <= y for x, y in missing[c])))
        if not need:
            continue
        if segs and segs[-1][0] == need and segs[-1][2] == a - 1:
            segs[-1] = (need, segs[-1][1], b)
        else:
            segs.append((need, a, b))
    return segs


class _Planner:
    """Hands out block ranges to fetch threads; the range size adapts to the answers."""

    def __init__(self, jobs: list[tuple[tuple[str, ...], int, int]], initial: int, max_range: int,
                 target_logs: int) -> None:
        self.jobs = jobs
        self.cursor = [lo for _, lo, _ in jobs]
        self.job = 0
        self.size = max(1, initial)
        self.max_range = max_range
        self.ceiling = max_range
        self.target = max(1, target_logs)
        self.ok_since_split = 0
        self.lock = threading.Lock()

    def next(self) -> tuple[tuple[str, ...], int, int] | None:
        with self.lock:
            while self.job < len(self.jobs):
                contracts, _, hi = self.jobs[self.job]
                a = self.cursor[self.job]
                if a <= hi:
                    b = min(hi, a + self.size - 1)
                    self.cursor[self.job] = b + 1
                    return contracts, a, b
                self.job += 1
            return None

    def answered(self, span: int, logs: int) -> None:
        with self.lock:
            self.ok_since_split += 1
            if self.ok_since_split >= 20:
                self.ceiling = self.max_range
            factor = min(4.0, max(0.5, self.target / max(logs, 1)))
            self.size = max(1, min(int(span * factor), self.ceiling, self.max_range))

    def refused(self, span: int) -> None:
        with self.lock:
            self.ok_since_split = 0
            self.ceiling = max(1, min(self.ceiling, span // 2))
            self.size = max(1, min(self.size, span // 2))


# -- fetching -----------------------------------------------------------------------------------------------




@dataclass
class _Piece:
    """An answered block range, not yet parsed."""

    contracts: tuple[str, ...]
    lo: int
    hi: int
    content: bytes


def _fetch_range(client: RpcClient, planner: _Planner, contracts: tuple[str, ...], lo: int, hi: int) -> Iterator[_Piece]:
    """Fetch [lo, hi], splitting it when the node refuses; yields one answer per sub-range, as soon as it is
    answered (so it can be committed even if a later piece fails)."""
    stack = [(lo, hi)]
    while stack:
        a, b = stack.pop()
        limit = planner.ceiling
        if b - a + 1 > limit:  # a refusal elsewhere taught us a smaller limit: do not ask for more again
            stack.extend((x, min(b, x + limit - 1)) for x in reversed(range(a, b + 1, limit)))
            continue
        try:
            # Raw on purpose, not web3's eth.get_logs: web3 builds a formatted AttributeDict per log, which took
            # 2.37 s for 6,014 logs from anvil against 0.23 s for this raw answer plus its Arrow parse (~10x;
            # node ingestion figures in docs/ingest-rpc.md). web3 serves the contract reads (ingest/node.py).
            content, n = client.get_logs_raw(contracts, TOPICS, a, b)
        except RangeTooLarge as e:
            log.debug("blocks %d-%d refused (%s); splitting", a, b, e.reason)
            client.stats.add(splits=1)
            planner.refused(b - a + 1)
            mid = (a + b) // 2
            stack.append((mid + 1, b))
            stack.append((a, mid))
            continue
        planner.answered(b - a + 1, n)
        yield _Piece(contracts, a, b, content)


def _decode(client: RpcClient, piece: _Piece, token_ids: dict[str, int], spec: ChainSpec | None = None) -> Chunk:
    """Parse an answer into a chunk: Arrow columns, block hashes and times, logs per contract. An answer of plain
    Transfer logs is read straight into columns (:mod:`chainrisk.ingest.logs_fast`); anything else, and any doubt,
    goes through Arrow's JSON reader. A range whose blocks changed while being read (a reorg at the tip) is read
    again."""
    contracts, a, b = piece.contracts, piece.lo, piece.hi
    content = piece.content
    cols = transfer_columns(content, token_ids)
    if cols is not None:
        blocks = _blocks_fast(client, cols.blocks, b)
        transfers = transfers_of_columns(cols, blocks, spec) if blocks is not None else None
        if transfers is not None and blocks is not None:
            return Chunk(contracts, a, b, cols.n, transfers, _NO_LOGS, blocks, Counter(cols.counts))
    for _ in range(5):
        tbl = client.parse_logs(content)
        if tbl.num_rows and pc.any(tbl["removed"]).as_py():
            tbl = tbl.filter(pc.invert(pc.fill_null(tbl["removed"], False)))
        blocks = _blocks_of(client, tbl, b)
        if blocks is not None:
            break
        log.warning("blocks %d-%d changed while being read (a reorg at the tip); reading them again", a, b)
        content = client.get_logs_raw(contracts, TOPICS, a, b)[0]
    else:
        raise SourceUnavailable(f"blocks {a}-{b} keep changing at the node {client.masked}; use more "
                                "--confirmations")
    if len(contracts) > 1:
        vc = pc.value_counts(pc.utf8_lower(tbl["address"])).to_pylist() if tbl.num_rows else []
        counts: Counter[str] = Counter({d["values"]: d["counts"] for d in vc})
    else:
        counts = Counter({contracts[0]: tbl.num_rows})
    transfers, others = decode_transfers(tbl, blocks, token_ids, spec)
    return Chunk(contracts, a, b, tbl.num_rows, transfers, others, blocks, counts)


_NO_LOGS = logs_table([])


def _blocks_fast(client: RpcClient, seen: dict[int, tuple[str, int | None]], last: int
                 ) -> dict[int, tuple[str, int]] | None:
    """:func:`_blocks_of` for an answer read by :func:`transfer_columns` (its blocks, with times when the logs
    carried them): headers are fetched for the blocks without a time and for the range's last block. None when
    a header's hash is not the logs' (the general path then reads the range again)."""
    blocks = {n: (h, ts) for n, (h, ts) in seen.items() if ts is not None}
    need = [n for n, (_, ts) in seen.items() if ts is None]
    if last not in seen:
        need.append(last)
    for num, (h, ts) in client.block_headers(sorted(set(need))).items():
        if num in seen and seen[num][0] != h:
            return None
        blocks[num] = (h, ts)
    return blocks


def _blocks_of(client: RpcClient, tbl: pa.Table, last: int) -> dict[int, tuple[str, int]] | None:
    """{number: (hash, timestamp)} of the blocks with logs in ``tbl`` and of the range's ``last`` block.

    Times come from the logs' ``blockTimestamp`` when the node sends it, else from batched headers. None when
    the logs and headers disagree on a block's hash (the chain changed while we read it)."""
    hashes: dict[int, str] = {}
    blocks: dict[int, tuple[str, int]] = {}
    need = []
    if tbl.num_rows:
        # one row per distinct block hash (first occurrence); a block number seen with two hashes means a reorg
        uniq = pc.unique(tbl["blockHash"])
        first = pc.index_in(uniq, tbl["blockHash"])
        cols = [pc.take(tbl[k], first).to_pylist() for k in ("blockNumber", "blockHash", "blockTimestamp")]
        for n, h, ts in zip(*cols, strict=True):
            num = int(n, 16)
            if hashes.setdefault(num, h) != h:
                return None
            if ts is None:
                need.append(num)
            else:
                blocks[num] = (h, int(ts, 16))
    if last not in hashes:
        need.append(last)  # the range's last block: its hash lets a later run detect a reorg
    for num, (h, ts) in client.block_headers(sorted(set(need))).items():
        if hashes.get(num, h) != h:
            return None
        blocks[num] = (h, ts)
    return blocks


# -- the public function ------------------------------------------------------------------------------------


def resolve_tokens(store: Store, client: RpcClient, refs: Sequence[str] | None, chain: str) -> list[Token]:
    """Registered tokens by symbol or address; an unregistered address is registered with the decimals (and
    symbol) its contract reports. On TRON a contract is given as ``T...`` (or ``41...`` hex)."""
    if not refs:
        return store.tokens(chain)
    spec = get_chain(chain)
    out: dict[int, Token] = {}
    for ref in refs:
        text = ref.strip()
        if text.lower().startswith("0x") or (spec.address_form == "tron" and (
                (text.startswith("T") and len(text) == 34) or (text.startswith("41") and len(text) == 42))):
            addr = spec.canonical(text)
            known = [t for t in store.tokens(chain) if t.contract == addr]
            if known:
                tok = known[0]
            else:
                decimals = client.erc20_decimals(spec.to_node(addr))
                symbol = client.erc20_symbol(spec.to_node(addr))
                tok = store.ensure_token(chain, addr, symbol=symbol, decimals=decimals, kind="other",
                                         source=f"decimals() and symbol() read from the node {client.masked}")
        else:
            tok = store.resolve_token(ref, chain)
        out[tok.id] = tok
    return list(out.values())


def ingest_rpc(
    store: Store,
    rpc_url: str,
    tokens: Sequence[str] | None = None,
    from_block: int = 0,
    to_block: int | None = None,
    confirmations: int | None = None,
    *,
    chain: str = "ethereum",
    concurrency: int = 2,
    timeout: float = 60.0,
    max_retries: int = 6,
    backoff: float = 0.5,
    initial_range: int = 100,
    max_range: int = 100_000,
    target_logs: int = 2_500,
    commit_logs: int = 500_000,
    commit_seconds: float = 5.0,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Ingest ``Transfer`` logs and issuer blacklist events of ``tokens`` (symbols or addresses; default: every
    registered token of ``chain``) from the node at ``rpc_url`` over [from_block, to_block], never above
    ``latest - confirmations`` when ``confirmations`` is given; otherwise never above the node's ``finalized``
    block (falling back to the chain's confirmation depth, :mod:`chainrisk.chains`, when the node does not answer
    the tag). The node's chain id must
    be the chain's (:func:`chainrisk.chains.check_chain_id`). On TRON the registered contracts are base58 and the
    node's logs 20-byte hex: addresses are converted at this edge and stored as ``T...``. Resumes from what is
    already stored; safe to rerun or kill at any point."""
    spec = get_chain(chain)
    chain = spec.name
    use_finalized = confirmations is None and spec.finality == "finalized"
    if confirmations is None:
        confirmations = spec.confirmations
    if spec.max_block_range is not None:
        max_range = min(max_range, spec.max_block_range)
    if from_block < 0 or (to_block is not None and to_block < 0) or confirmations < 0:
        raise UsageError("block numbers and --confirmations must not be negative")
    if to_block is not None and to_block < from_block:
        raise UsageError(f"--to-block {to_block} is below --from-block {from_block}; swap them")
    if concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    t0 = time.monotonic()
    client = RpcClient(rpc_url, timeout=timeout, max_retries=max_retries, backoff=backoff)
    report = IngestReport(rpc_url=mask_url(rpc_url), chain=chain, confirmations=confirmations,
                          from_block=from_block, requested_to_block=to_block)
    try:
        report.chain_id = client.chain_id()
        note = check_chain_id(spec, report.chain_id, client.masked)
        if note:
            report.notes.append(note)
        latest = client.block_number()
        report.latest_block = latest
        toks = resolve_tokens(store, client, tokens, chain)
        if not toks:
            raise InputError(f"no tokens are registered for {chain}; pass --token SYMBOL|ADDRESS")
        report.tokens = [t.symbol for t in toks]
        safe, why = _safe_head(client, spec, latest, confirmations, use_finalized, report)
        hi = safe if to_block is None else min(to_block, safe)
        if to_block is not None and to_block > safe:
            report.notes.append(f"--to-block {to_block} is above the last confirmed block {safe} ({why}); "
                                f"stopped at {safe}")
            log.warning(report.notes[-1])
        report.to_block = hi
        fork, deleted = check_reorg(store, client, chain, latest)
        report.reorg_fork_block, report.reorg_deleted_transfers = fork, deleted
        if fork is not None:
            report.notes.append(f"reorg: the store diverged from the node above block {fork}; {deleted} "
                                "transfers above it were deleted and read again")
        by_contract = {t.contract: t for t in toks}
        jobs = plan_ranges(store, chain, sorted(by_contract), from_block, hi)
        # the node's form of each contract (TRON: 0x + the 20 bytes after 41); ranges map back via Token.contract
        jobs = [(tuple(spec.to_node(c) for c in cs), a, b) for cs, a, b in jobs]
        by_node = {spec.to_node(c): t for c, t in by_contract.items()}
        report.ranges_planned = len(jobs)
        report.blocks_planned = sum(b - a + 1 for _, a, b in jobs)
        if jobs:
            _run(store, client, spec, jobs, by_node, report, concurrency=concurrency,
                 initial_range=initial_range, max_range=max_range, target_logs=target_logs,
                 commit_logs=commit_logs, commit_seconds=commit_seconds, progress=progress)
            compact_ranges(store, chain)
        elif hi >= from_block:
            report.notes.append(f"blocks {from_block}-{hi} are already stored for these tokens; nothing to do")
    finally:
        report.requests = client.stats.requests
        report.retries = client.stats.retries
        report.splits = client.stats.splits
        report.seconds = time.monotonic() - t0
        client.close()
    return report


def _safe_head(client: RpcClient, spec: ChainSpec, latest: int, confirmations: int, use_finalized: bool,
               report: IngestReport) -> tuple[int, str]:
    """The highest block to store and why. An explicit ``confirmations`` is the user's rule: ``latest -
    confirmations``. Otherwise, on a chain whose finality is ``finalized`` (every chain here), the node's
    ``finalized`` block (``chainrisk.chains`` says what it means per chain); a node that does not answer the tag
    (an old client, a pre-merge chain) falls back to the chain's confirmation depth, with a note. On TRON the
    19-block depth caps as well."""
    depth = latest - confirmations
    if not use_finalized:
        return depth, f"latest {latest} - {confirmations} confirmations"
    fin = client.finalized_block()
    report.finalized_block = fin
    if fin is None:
        report.notes.append(f"the node does not answer the 'finalized' block tag; using {spec.name}'s fallback of "
                            f"{confirmations} confirmations (latest {latest} - {confirmations} = {depth})")
        log.warning(report.notes[-1])
        return depth, f"latest {latest} - {confirmations} confirmations"
    if spec.confirmations_cap_too and depth < fin:
        return depth, f"latest {latest} - {confirmations} confirmations"
    report.confirmations = max(0, latest - fin)
    return min(fin, latest), f"the node's finalized block {fin}"


def _run(store: Store, client: RpcClient, spec: ChainSpec, jobs: list[tuple[tuple[str, ...], int, int]],
         tokens: dict[str, Token], report: IngestReport, *, concurrency: int, initial_range: int, max_range: int,
         target_logs: int, commit_logs: int, commit_seconds: float, progress: ProgressCallback | None) -> None:
    chain = spec.name
    planner = _Planner(jobs, initial_range, max_range, target_logs)
    token_ids = {k: t.id for k, t in tokens.items()}
    # fetch threads -> raw answers -> one decoder thread -> chunks -> this (writer) thread. Parsing off the
    # fetch threads keeps `concurrency` requests in flight at the node all the time.
    raw_q: queue.Queue[_Piece | None] = queue.Queue(maxsize=concurrency * 2)
    q: queue.Queue[Chunk | None] = queue.Queue(maxsize=concurrency * 4)
    stop = threading.Event()
    errors: list[BaseException] = []

    writer_gone = threading.Event()
    decoder_gone = threading.Event()

    def put(qq: queue.Queue[Any], item: Any, gone: threading.Event) -> None:
        while True:
            try:
                qq.put(item, timeout=0.2)
                return
            except queue.Full:
                if stop.is_set() and (item is not None or gone.is_set()):
                    return  # an uncommitted range is simply fetched again by the next run

    def worker() -> None:
        try:
            while not stop.is_set():
                job = planner.next()
                if job is None:
                    break
                for piece in _fetch_range(client, planner, *job):
                    put(raw_q, piece, decoder_gone)
        except BaseException as e:
            errors.append(e)
            stop.set()
        finally:
            put(raw_q, None, decoder_gone)
            client.close()

    def decoder() -> None:
        done = 0
        try:
            while done < concurrency:
                piece = raw_q.get()
                if piece is None:
                    done += 1
                elif not writer_gone.is_set():
                    put(q, _decode(client, piece, token_ids, spec), writer_gone)
        except BaseException as e:
            errors.append(e)
            stop.set()
            while done < concurrency:  # let the fetchers finish
                try:
                    if raw_q.get(timeout=0.2) is None:
                        done += 1
                except queue.Empty:
                    if all(not t.is_alive() for t in threads):
                        break
        finally:
            decoder_gone.set()
            put(q, None, writer_gone)
            client.close()

    threads = [threading.Thread(target=worker, name=f"chainrisk-rpc-{i}", daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    decoding = threading.Thread(target=decoder, name="chainrisk-rpc-decode", daemon=True)
    decoding.start()
    pending: list[Chunk] = []
    pending_logs = 0
    finished = 0
    last_commit = time.monotonic()

    def flush() -> None:
        nonlocal pending, pending_logs, last_commit
        if pending:
            counts = commit_chunks(store, chain, pending, tokens, spec)
            report.commits += 1
            report.transfers_added += counts.transfers_added
            report.blacklist_events_added += counts.blacklist_events_added
            report.blocks_added += counts.blocks_added
            report.logs_skipped += counts.logs_skipped
            log.info("stored %d ranges, %d logs (%d transfers so far)", len(pending), pending_logs,
                     report.transfers_added)
        pending, pending_logs, last_commit = [], 0, time.monotonic()

    try:
        while finished < 1:
            try:
                item = q.get(timeout=0.25)
            except queue.Empty:
                item = None
            else:
                if item is None:
                    finished += 1
                else:
                    pending.append(item)
                    pending_logs += item.logs
                    report.logs_fetched += item.logs
                    report.blocks_done += item.hi - item.lo + 1
                    if progress is not None:
                        progress(Progress(report.blocks_done, report.blocks_planned, report.logs_fetched,
                                          report.transfers_added))
            # Commit when enough is pending, when it is time, or when the writer would otherwise idle (the
            # fetchers are the bottleneck): small commits then keep the final, unoverlapped one short.
            if pending and (pending_logs >= commit_logs or time.monotonic() - last_commit >= commit_seconds
                            or (q.empty() and pending_logs >= commit_logs // IDLE_COMMIT_DIVISOR)):
                flush()
        flush()  # keep what was fetched even when a worker failed
    except BaseException:
        stop.set()
        raise
    finally:
        stop.set()
        writer_gone.set()
        for t in [*threads, decoding]:
            t.join(timeout=5)
    if errors:
        raise errors[0]
