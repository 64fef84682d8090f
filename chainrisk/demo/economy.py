"""A deterministic simulated stablecoin economy, with ground truth: the demo's data and the benchmarks' generator.

    >>> from chainrisk.demo.economy import generate_economy
    >>> eco = generate_economy(scale=0.01, seed=7)
    >>> eco.transfers.num_rows, eco.labels.num_rows, eco.truth.num_rows

The economy reuses the real token contracts of ``datasets/tokens.csv`` and contains the structures real screening
meets: exchanges whose per-customer deposit addresses sweep to hot wallets within minutes; issuer mints and burns
through the null address; RWA fund subscriptions (stablecoins in to the issuer, fund tokens minted out through the
null address) and redemptions; a mixer pool with fixed denominations; sanctioned payers; scam operations whose
victims pay collectors that forward through layering hops to mules who cash out at exchange deposit addresses;
address-poisoning dust from look-alike addresses; DEX pools; bridges; OTC desks; a casino; merchants; and ordinary
peer-to-peer users. Amounts are heavy-tailed (lognormal) and activity is power-law (Pareto weights).

Only what would be publicly knowable is labelled (exchange hot wallets yes, their deposit addresses no; the mixer,
OFAC-listed addresses, some scam collectors and poisoners, issuers, token contracts, DEX pools, bridges). The
``truth`` table gives every address its role, so a scoring run can be measured against it.

Everything is vectorised numpy; the same ``seed`` and ``scale`` give byte-identical output. The transfers are
planned as integer arrays and turned into strings chunk by chunk (:meth:`Economy.transfer_batches`), so a
10M-transfer economy streams to Parquet with bounded memory.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..data import TOKENS_CSV
from ..taxonomy import NULL_ADDRESS

CHAIN = "ethereum"
START_BLOCK = 18_908_895                     # first block of 2024 on Ethereum mainnet
START_TIME = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
BLOCK_SECONDS = 12
SPAN_DAYS = 180
DAY = 86_400.0
_TOKENS_CSV = TOKENS_CSV

# Share of stablecoin activity per token (Ethereum, roughly 2024).
STABLE_WEIGHTS = {
    "USDT": 0.52, "USDC": 0.29, "DAI": 0.05, "FDUSD": 0.04, "PYUSD": 0.03, "USDe": 0.03, "TUSD": 0.01,
    "USDP": 0.01, "FRAX": 0.005, "GUSD": 0.005, "LUSD": 0.005, "BUSD": 0.005,
}
# RWA tokens and an approximate USD price of one token in 2024.
RWA_PRICES = {
    "BUIDL": 1.0, "OUSG": 108.0, "USDY": 1.06, "USTB": 10.4, "USYC": 1.07, "TBILL": 1.04, "USDtb": 1.0,
    "PAXG": 2400.0, "XAUT": 2400.0,
}
ROLES: tuple[str, ...] = (
    "null", "token_contract", "stablecoin_issuer", "rwa_issuer", "exchange_hot", "exchange_cold",
    "exchange_deposit", "dex_pool", "bridge", "otc_desk", "casino", "mixer_pool", "p2p_user", "merchant",
    "rwa_investor", "victim", "collector", "layering_hop", "mule", "mixer_user", "mixer_recipient",
    "sanctioned_payer", "sanctions_counterparty", "poisoner",
)
# Ground-truth groups the demo measures the scoring against.
# (Poisoners are left out: their look-alike addresses only send dust, which by design carries no risk; the demo
# lists them per role.)
ILLICIT_ROLES = frozenset({
    "collector", "layering_hop", "mule", "mixer_recipient", "sanctioned_payer", "mixer_pool",
})
# Not actors, but linked to illegal activity by their own transfers (paid a scam, used the mixer, received from a
# sanctioned payer): a correct "links to illegal activity" answer for them too.
ILLICIT_EXPOSED_ROLES = frozenset({"victim", "mixer_user", "sanctions_counterparty"})
VC_BUSINESS_ROLES = frozenset({
    "exchange_hot", "exchange_cold", "exchange_deposit", "otc_desk", "casino", "stablecoin_issuer", "rwa_issuer",
})
CLEAN_ROLES = frozenset({"p2p_user", "merchant"})

_EXCHANGES = ["Aurora Exchange", "Borealis", "Cobalt Markets", "Dragonfly Pro", "Emerald Trade", "Falcon X",
              "Granite", "Harbor Exchange", "Ivory Digital", "Jade Markets"]
_SURNAMES = ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu",
             "Hu", "Guo", "He", "Lin", "Gao", "Luo"]
_GIVEN = ["Wei", "Fang", "Na", "Min", "Jing", "Li", "Qiang", "Lei", "Jun", "Yang", "Yong", "Yan", "Jie", "Tao",
          "Ming", "Chao", "Xiu Ying", "Hui", "Ping", "Gang", "Hao", "Yu", "Xin", "Bo"]
_HEX2 = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint16)
_ZERO64 = np.uint64(0)


@dataclass(frozen=True)
class SimToken:
    index: int
    contract: str
    symbol: str
    decimals: int
    kind: str
    price: float            # USD per token


@dataclass
class Economy:
    """A generated economy. ``transfers`` materialises every transfer (use :meth:`transfer_batches` or
    :meth:`write_transfers` for large scales); ``labels``, ``truth`` and ``declared`` are small Arrow tables."""

    seed: int
    scale: float
    tokens: list[SimToken]
    labels: pa.Table
    truth: pa.Table
    declared: pa.Table
    # the transfer plan, one entry per transfer, in chain order
    _block: np.ndarray = field(repr=False)
    _log_index: np.ndarray = field(repr=False)
    _tx: np.ndarray = field(repr=False)
    _token: np.ndarray = field(repr=False)
    _src: np.ndarray = field(repr=False)
    _dst: np.ndarray = field(repr=False)
    _units: np.ndarray = field(repr=False)       # value at min(decimals, 6) decimals (exact)
    _addresses: pa.Array = field(repr=False)     # address string per address id
    _transfers: pa.Table | None = field(default=None, repr=False)

    @property
    def n_transfers(self) -> int:
        return len(self._block)

    @property
    def first_block(self) -> int:
        return int(self._block[0]) if len(self._block) else START_BLOCK

    @property
    def last_block(self) -> int:
        return int(self._block[-1]) if len(self._block) else START_BLOCK

    @property
    def transfers(self) -> pa.Table:
        """All transfers: chain, tx_hash, log_index, block_number, block_time (UTC), token_address, from_address,
        to_address, value (the exact raw integer as decimal text, as in BigQuery's ``token_transfers``)."""
        if self._transfers is None:
            self._transfers = pa.Table.from_batches(list(self.transfer_batches()))
        return self._transfers

    def transfer_batches(self, chunk_rows: int = 1_000_000) -> Iterator[pa.RecordBatch]:
        for lo in range(0, max(self.n_transfers, 1), chunk_rows):
            hi = min(lo + chunk_rows, self.n_transfers)
            if hi <= lo:
                break
            yield self._batch(lo, hi)

    def _batch(self, lo: int, hi: int) -> pa.RecordBatch:
        tok = self._token[lo:hi]
        block = self._block[lo:hi]
        contracts = pa.array([t.contract for t in self.tokens])
        decimals = np.array([t.decimals for t in self.tokens])
        units = self._units[lo:hi]
        value = pc.cast(pa.array(units), pa.string())
        nonzero = units != 0
        for d in sorted(set(decimals.tolist())):
            if d <= 6:
                continue
            mask = pa.array(nonzero & (decimals[tok] == d))
            value = pc.if_else(mask, pc.binary_join_element_wise(value, "0" * (d - 6), ""), value)
        start = int(START_TIME.timestamp() * 1_000_000)
        times = start + (block - START_BLOCK).astype(np.int64) * BLOCK_SECONDS * 1_000_000
        n = hi - lo
        return pa.RecordBatch.from_arrays(
            [
                pa.repeat(pa.scalar(CHAIN), n),
                _hex_strings(_hash_words(self._tx[lo:hi], self.seed, 4)),
                pa.array(self._log_index[lo:hi]),
                pa.array(block),
                pa.array(times, pa.timestamp("us", tz="UTC")),
                contracts.take(pa.array(tok)),
                self._addresses.take(pa.array(self._src[lo:hi])),
                self._addresses.take(pa.array(self._dst[lo:hi])),
                value,
            ],
            names=["chain", "tx_hash", "log_index", "block_number", "block_time", "token_address",
                   "from_address", "to_address", "value"],
        )

    def write_transfers(self, path: str | Path, format: str = "bigquery", chunk_rows: int = 1_000_000) -> Path:
        """Write the transfers, streaming chunk by chunk, as a Parquet file in BigQuery
        ``crypto_ethereum.token_transfers`` columns (``format='bigquery'``), or as an ethereum-etl style CSV
        with the block time added (``format='csv'``)."""
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        path = Path(path)
        if format not in ("bigquery", "csv"):
            raise ValueError(f"unknown transfer file format {format!r}; use 'bigquery' or 'csv'")
        writer: Any = None
        try:
            for batch in self.transfer_batches(chunk_rows):
                out = _bigquery_shape(batch)
                if writer is None:
                    writer = (pq.ParquetWriter(path, out.schema, compression="zstd") if format == "bigquery"
                              else pacsv.CSVWriter(path, out.schema))
                writer.write_batch(out)
        finally:
            if writer is not None:
                writer.close()
        return path

    def write_labels(self, path: str | Path) -> Path:
        """The public labels as a CSV in chainrisk's generic label format
        (``address,category,label,source,confidence,chain``)."""
        import pyarrow.csv as pacsv

        pacsv.write_csv(self.labels, Path(path))
        return Path(path)

    def write_declared(self, path: str | Path) -> Path:
        """The bank's declared-address sample as a CSV (its own columns plus ``address``)."""
        import pyarrow.csv as pacsv

        pacsv.write_csv(self.declared, Path(path))
        return Path(path)

    def write_truth(self, path: str | Path) -> Path:
        import pyarrow.csv as pacsv

        pacsv.write_csv(self.truth, Path(path))
        return Path(path)

    def addresses_with_role(self, role: str) -> list[str]:
        mask = pc.equal(self.truth["role"], role)
        return self.truth.filter(mask)["address"].to_pylist()


# ---------------------------------------------------------------------------------------------------------------
# vectorised helpers


def _splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _hash_words(ids: np.ndarray, seed: int, words: int) -> np.ndarray:
    """``words`` pseudo-random 64-bit words per id, as bytes (n, 8*words); a pure function of (id, seed)."""
    base = ids.astype(np.uint64) * np.uint64(words) + np.uint64(seed) * np.uint64(0x100000001B3)
    cols = [_splitmix(base + np.uint64(k)) for k in range(words)]
    return np.stack(cols, axis=1).view(np.uint8).reshape(len(ids), 8 * words)


def _hex_chars(raw: np.ndarray) -> np.ndarray:
    """(n, k) bytes -> (n, 2 + 2k) ASCII '0x...' lower-case hex characters."""
    n, k = raw.shape
    out = np.empty((n, 2 + 2 * k), dtype=np.uint8)
    out[:, 0] = ord("0")
    out[:, 1] = ord("x")
    out[:, 2:] = _HEX2[raw].view(np.uint8).reshape(n, 2 * k)     # two hex digits per byte at once
    return out


def _strings_from_chars(chars: np.ndarray) -> pa.Array:
    n, width = chars.shape
    offsets = (np.arange(n + 1, dtype=np.int64) * width).astype(np.int64)
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars).tobytes())
    ).cast(pa.string())


def _hex_strings(raw: np.ndarray) -> pa.Array:
    return _strings_from_chars(_hex_chars(raw))


def _bigquery_shape(batch: pa.RecordBatch) -> pa.RecordBatch:
    """BigQuery ``crypto_ethereum.token_transfers`` column names and order."""
    return pa.RecordBatch.from_arrays(
        [batch["token_address"], batch["from_address"], batch["to_address"], batch["value"],
         batch["tx_hash"], batch["log_index"], batch["block_timestamp"] if "block_timestamp" in batch.schema.names
         else batch["block_time"], batch["block_number"]],
        names=["token_address", "from_address", "to_address", "value", "transaction_hash", "log_index",
               "block_timestamp", "block_number"],
    )


def load_sim_tokens() -> list[SimToken]:
    """The Ethereum stablecoins and RWA tokens of ``datasets/tokens.csv`` that the economy uses."""
    with _TOKENS_CSV.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["chain"] == CHAIN]
    out: list[SimToken] = []
    for r in rows:
        sym = r["symbol"]
        if sym in STABLE_WEIGHTS:
            price = 1.0
        elif sym in RWA_PRICES:
            price = RWA_PRICES[sym]
        else:
            continue
        out.append(SimToken(len(out), r["contract"].lower(), sym, int(r["decimals"]), r["kind"], price))
    return out


# ---------------------------------------------------------------------------------------------------------------
# the generator


class _Builder:
    def __init__(self, scale: float, seed: int) -> None:
        self.scale = scale
        self.seed = seed
        self.rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(32)]
        self._next_rng = 0
        self.tokens = load_sim_tokens()
        self.by_symbol = {t.symbol: t for t in self.tokens}
        self.price = np.array([t.price for t in self.tokens])
        stable = [t for t in self.tokens if t.symbol in STABLE_WEIGHTS]
        self.stable_idx = np.array([t.index for t in stable])
        w = np.array([STABLE_WEIGHTS[t.symbol] for t in stable])
        self.stable_p = w / w.sum()
        # address registry
        self.role_chunks: list[np.ndarray] = []
        self.entity_chunks: list[np.ndarray] = []
        self.entities: list[str] = [""]
        self.n_addr = 0
        self.fixed: dict[int, str] = {}                 # id -> literal address
        self.lookalike: list[tuple[np.ndarray, np.ndarray]] = []   # (ids, target ids)
        self.labels: list[tuple[int, str, str, str, int]] = []    # id, category, label, source, confidence
        # events
        self.ev: list[tuple[np.ndarray, ...]] = []
        self.n_tx = 0

    def rng(self) -> np.random.Generator:
        r = self.rngs[self._next_rng]
        self._next_rng += 1
        return r

    def n(self, base: float, minimum: int = 1) -> int:
        return max(minimum, round(base * self.scale))

    def alloc(self, role: str, n: int, entity: str = "") -> np.ndarray:
        ids = np.arange(self.n_addr, self.n_addr + n, dtype=np.int64)
        self.n_addr += n
        self.role_chunks.append(np.full(n, ROLES.index(role), dtype=np.uint8))
        if entity:
            self.entities.append(entity)
            self.entity_chunks.append(np.full(n, len(self.entities) - 1, dtype=np.int32))
        else:
            self.entity_chunks.append(np.zeros(n, dtype=np.int32))
        return ids

    def set_role(self, ids: np.ndarray, role: str, entity: str = "") -> None:
        roles = np.concatenate(self.role_chunks)
        roles[ids] = ROLES.index(role)
        ents = np.concatenate(self.entity_chunks)
        if entity:
            self.entities.append(entity)
            ents[ids] = len(self.entities) - 1
        self.role_chunks = [roles]
        self.entity_chunks = [ents]

    def label(self, ids: np.ndarray | list[int], category: str, name: str, source: str, confidence: int) -> None:
        for i in np.atleast_1d(np.asarray(ids)):
            self.labels.append((int(i), category, name, source, confidence))

    def add(self, t: np.ndarray, tok: np.ndarray | int, src: np.ndarray | int, dst: np.ndarray | int,
            amount: np.ndarray | float, tx: np.ndarray | None = None) -> None:
        """Add transfers (amount in token units). ``tx``: local transaction numbers to group transfers into one
        transaction (default: each its own)."""
        t = np.asarray(t, dtype=np.float64)
        n = len(t)
        if n == 0:
            return
        bc = [np.broadcast_to(np.asarray(a), (n,)) for a in (tok, src, dst, amount)]
        if tx is None:
            txs = self.n_tx + np.arange(n, dtype=np.int64)
            self.n_tx += n
        else:
            txs = self.n_tx + np.asarray(tx, dtype=np.int64)
            self.n_tx += int(txs.max() - self.n_tx) + 1
        self.ev.append((t, bc[0].astype(np.int16), bc[1].astype(np.int64), bc[2].astype(np.int64),
                        bc[3].astype(np.float64), txs))

    def usd_to_units(self, tok: np.ndarray, usd: np.ndarray) -> np.ndarray:
        return usd / self.price[tok]

    def stable(self, r: np.random.Generator, n: int) -> np.ndarray:
        return self.stable_idx[r.choice(len(self.stable_idx), size=n, p=self.stable_p)]


def _lognormal_usd(r: np.random.Generator, n: int, median: float, sigma: float, cap: float = 5e7) -> np.ndarray:
    return np.minimum(np.round(r.lognormal(np.log(median), sigma, n), 2) + 0.01, cap)


def _weights(r: np.random.Generator, n: int, alpha: float = 1.1) -> np.ndarray:
    w = r.pareto(alpha, n) + 1.0
    return w / w.sum()


class _World:
    """The economy under construction: the builder and the structures the later steps build on. Each step of
    :func:`generate_economy` adds one structure of the economy and its transfers, drawing from its own random
    streams in a fixed order (the output is byte-identical for a given scale and seed)."""

    span: float
    null: Any                   # an address id (a numpy integer)
    tok_ids: np.ndarray
    issuer_of: dict[int, int]
    n_ex: int
    ex_w: np.ndarray
    hots: list[np.ndarray]
    colds: list[int]
    hot_first: np.ndarray
    roles_ex: np.ndarray
    users: np.ndarray
    user_w: np.ndarray
    n_users: int
    cust: np.ndarray
    dep_user: np.ndarray
    dep_ex: np.ndarray
    dep_addr: np.ndarray
    otc: np.ndarray
    mixer: Any
    mix_users: np.ndarray

    def __init__(self, b: _Builder) -> None:
        self.b = b
        self.span = SPAN_DAYS * DAY
        self.dep_of_new: dict[int, int] = {}    # deposit address id -> exchange index, for later deposit addresses

    def hot_of(self, rr: np.random.Generator, ex: np.ndarray) -> np.ndarray:
        pick = rr.integers(0, 3, len(ex))
        sizes = np.array([len(h) for h in self.hots])
        flat = np.concatenate(self.hots)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        return flat[starts[ex] + pick % sizes[ex]]

    def deposit_address(self, owners: np.ndarray, rr: np.random.Generator) -> np.ndarray:
        """A fresh deposit address at a random exchange for each owner (e.g. a mule's account)."""
        ex = rr.choice(self.n_ex, len(owners), p=self.ex_w)
        ids = self.b.alloc("exchange_deposit", len(owners))
        self.b.entity_chunks[-1] = self.roles_ex[ex]
        self.dep_of_new.update(dict(zip(ids.tolist(), ex.tolist(), strict=True)))
        return ids

    def exchange_of(self, deposits: np.ndarray) -> np.ndarray:
        return np.array([self.dep_of_new[int(x)] for x in deposits], dtype=np.int64)

    def sweep(self, t: np.ndarray, dep: np.ndarray, ex: np.ndarray, usd_tok: np.ndarray, amt: np.ndarray,
              rr: np.random.Generator) -> None:
        """Deposit address -> exchange hot wallet, 1 to 30 minutes after each deposit."""
        self.b.add(t + rr.uniform(60, 1800, len(t)), usd_tok, dep, self.hot_of(rr, ex), amt)

    def mix(self, t: np.ndarray, src: np.ndarray, usd: np.ndarray, recipients: np.ndarray, rr: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Deposit ``usd`` (rounded down to denominations) into the mixer; withdraw 1-10 days later to
        ``recipients``. Returns (withdrawal time, recipient, usd) per note."""
        b = self.b
        d = MIXER_DENOMINATIONS[np.clip(np.searchsorted(MIXER_DENOMINATIONS, usd, side="right") - 1, 0, 3)]
        tok = np.where(rr.random(len(t)) < 0.5, b.by_symbol["USDT"].index, b.by_symbol["USDC"].index)
        b.add(t, tok, src, self.mixer, d)
        tw = t + rr.uniform(DAY, 10 * DAY, len(t))
        rc = recipients[rr.integers(0, len(recipients), len(t))]
        b.add(tw, tok, self.mixer, rc, d * 0.997)
        return tw, rc, d * 0.997


MIXER_DENOMINATIONS = np.array([100.0, 1_000.0, 10_000.0, 100_000.0])
DEX_PAIRS = [("USDC", "USDT"), ("DAI", "USDC"), ("USDT", "DAI"), ("USDe", "USDT"), ("FDUSD", "USDT"),
             ("PYUSD", "USDC"), ("USDC", "USDe"), ("FRAX", "USDC"), ("LUSD", "USDC"), ("TUSD", "USDT"),
             ("PAXG", "USDC"), ("XAUT", "USDT")]


def generate_economy(scale: float = 1.0, seed: int = 7) -> Economy:
    """Generate the economy: about ``1_000_000 * scale`` transfers, deterministic in (``scale``, ``seed``).

    One step per structure, in this order (each takes the next random streams of the builder)."""
    if not scale > 0:
        raise ValueError("scale must be positive")
    w = _World(_Builder(scale, seed))
    _token_contracts_and_issuers(w)
    r = w.b.rng()
    _exchanges(w, r)
    _users_and_exchange_accounts(w, r)
    _exchange_flows(w, w.b.rng())
    _mints_and_burns(w, w.b.rng())
    _p2p_payments(w, w.b.rng())
    _merchants(w, w.b.rng())
    r = w.b.rng()
    _dex_pools(w, r)
    _bridges(w, r)
    r = w.b.rng()
    _otc_desks(w, r)
    _casino(w, r)
    _rwa_funds(w, w.b.rng())
    _mixer(w, w.b.rng())
    _sanctioned_payers(w, w.b.rng())
    _scam_operations(w, w.b.rng())
    _address_poisoning(w, w.b.rng())
    return _finish(w.b, w.span)


def _token_contracts_and_issuers(w: _World) -> None:
    """The null address, the token contracts and one issuer treasury per token (stablecoin or RWA fund)."""
    b = w.b
    w.null = b.alloc("null", 1)[0]
    b.fixed[int(w.null)] = NULL_ADDRESS
    w.tok_ids = b.alloc("token_contract", len(b.tokens))
    for tk, i in zip(b.tokens, w.tok_ids, strict=True):
        b.fixed[int(i)] = tk.contract
        b.label(i, "token_contract", f"{tk.symbol} token contract", "demo-issuers", 50)
    w.issuer_of = {}
    for tk in b.tokens:
        if tk.kind == "stablecoin":
            (i,) = b.alloc("stablecoin_issuer", 1, entity=f"issuer:{tk.symbol}")
            b.label(i, "stablecoin_issuer", f"{tk.symbol} issuer treasury", "demo-issuers", 50)
        else:
            (i,) = b.alloc("rwa_issuer", 1, entity=f"issuer:{tk.symbol}")
            b.label(i, "rwa_issuer", f"{tk.symbol} fund: subscriptions and redemptions", "demo-issuers", 50)
        w.issuer_of[tk.index] = int(i)


def _exchanges(w: _World, r: np.random.Generator) -> None:
    """Exchanges: 1-3 labelled hot wallets and a cold wallet each, and their market shares."""
    b = w.b
    w.n_ex = len(_EXCHANGES)
    w.ex_w = _weights(r, w.n_ex, 0.8)
    w.hots, w.colds = [], []
    for name in _EXCHANGES:
        h = b.alloc("exchange_hot", int(r.integers(1, 4)), entity=f"exchange:{name}")
        for hk, i in enumerate(h, 1):
            b.label(i, "exchange", f"{name}: Hot Wallet {hk}", "demo-exchange-attribution", 50)
        (c,) = b.alloc("exchange_cold", 1, entity=f"exchange:{name}")
        b.label(c, "exchange", f"{name}: Cold Wallet", "demo-exchange-attribution", 50)
        w.hots.append(h)
        w.colds.append(int(c))
    w.hot_first = np.array([h[0] for h in w.hots])


def _users_and_exchange_accounts(w: _World, r: np.random.Generator) -> None:
    """Users (activity weights), and an unlabelled deposit address per exchange account of the customers."""
    b = w.b
    w.n_users = b.n(60_000, 50)
    w.users = b.alloc("p2p_user", w.n_users)
    w.user_w = _weights(r, w.n_users)
    n_cust = int(w.n_users * 0.55)
    w.cust = np.sort(r.choice(w.users, n_cust, replace=False))
    second = r.random(n_cust) < 0.25
    w.dep_user = np.concatenate([w.cust, w.cust[second]])
    w.dep_ex = r.choice(w.n_ex, len(w.dep_user), p=w.ex_w)
    w.dep_addr = b.alloc("exchange_deposit", len(w.dep_user))
    w.roles_ex = np.array([b.entities.index(f"exchange:{name}") for name in _EXCHANGES], dtype=np.int32)
    b.entity_chunks[-1] = w.roles_ex[w.dep_ex]


def _exchange_flows(w: _World, r: np.random.Generator) -> None:
    """Deposits and their sweeps to hot wallets, withdrawals to users, hot <-> cold moves."""
    b, span = w.b, w.span
    n_dep = b.n(150_000)
    dw = w.user_w[np.searchsorted(w.users, w.dep_user)]
    di = r.choice(len(w.dep_user), n_dep, p=dw / dw.sum())
    t = r.uniform(0, span, n_dep)
    tok = b.stable(r, n_dep)
    amt = b.usd_to_units(tok, _lognormal_usd(r, n_dep, 600, 1.6))
    b.add(t, tok, w.dep_user[di], w.dep_addr[di], amt)
    w.sweep(t, w.dep_addr[di], w.dep_ex[di], tok, amt, r)
    # withdrawals: hot wallet -> user (mostly customers)
    n_wd = b.n(120_000)
    to_cust = r.random(n_wd) < 0.8
    cw = w.user_w[np.searchsorted(w.users, w.cust)]
    dst = np.where(to_cust, r.choice(w.cust, n_wd, p=cw / cw.sum()), r.choice(w.users, n_wd, p=w.user_w))
    tok = b.stable(r, n_wd)
    b.add(r.uniform(0, span, n_wd), tok, w.hot_of(r, r.choice(w.n_ex, n_wd, p=w.ex_w)), dst,
          b.usd_to_units(tok, _lognormal_usd(r, n_wd, 500, 1.6)))
    # hot <-> cold
    n_hc = b.n(600, 10)
    ex = r.choice(w.n_ex, n_hc, p=w.ex_w)
    out = r.random(n_hc) < 0.5
    tok = b.stable(r, n_hc)
    amt = b.usd_to_units(tok, _lognormal_usd(r, n_hc, 2e6, 1.0))
    colds = np.array(w.colds)
    b.add(r.uniform(0, span, n_hc), tok, np.where(out, w.hot_first[ex], colds[ex]),
          np.where(out, colds[ex], w.hot_first[ex]), amt)


def _mints_and_burns(w: _World, r: np.random.Generator) -> None:
    """Issuers mint and burn through the null address; treasury <-> exchanges."""
    b, span = w.b, w.span
    n_mint = b.n(400, 20)
    tok = b.stable(r, n_mint)
    amt = b.usd_to_units(tok, np.round(_lognormal_usd(r, n_mint, 2e7, 1.0, 1e9), -3))
    t = r.uniform(0, span, n_mint)
    treas = np.array([w.issuer_of[int(k)] for k in tok])
    b.add(t, tok, w.null, treas, amt)
    b.add(t + r.uniform(600, 7200, n_mint), tok, treas, w.hot_first[r.choice(w.n_ex, n_mint, p=w.ex_w)], amt)
    n_burn = b.n(250, 10)
    tok = b.stable(r, n_burn)
    amt = b.usd_to_units(tok, np.round(_lognormal_usd(r, n_burn, 1e7, 1.0, 1e9), -3))
    t = r.uniform(0, span, n_burn)
    treas = np.array([w.issuer_of[int(k)] for k in tok])
    b.add(t, tok, w.hot_first[r.choice(w.n_ex, n_burn, p=w.ex_w)], treas, amt)
    b.add(t + r.uniform(600, 86_400, n_burn), tok, treas, w.null, amt)


def _p2p_payments(w: _World, r: np.random.Generator) -> None:
    """Ordinary peer-to-peer payments, and a few mistaken sends to a token's own contract."""
    b, span, users, user_w = w.b, w.span, w.users, w.user_w
    n_p2p = b.n(350_000)
    src = r.choice(users, n_p2p, p=user_w)
    dst = r.choice(users, n_p2p, p=user_w)
    dst = np.where(dst == src, users[(np.searchsorted(users, dst) + 1) % w.n_users], dst)
    tok = b.stable(r, n_p2p)
    b.add(r.uniform(0, span, n_p2p), tok, src, dst, b.usd_to_units(tok, _lognormal_usd(r, n_p2p, 150, 1.5)))
    n_mis = b.n(300, 2)
    tok = b.stable(r, n_mis)
    b.add(r.uniform(0, span, n_mis), tok, r.choice(users, n_mis, p=user_w), w.tok_ids[tok],
          b.usd_to_units(tok, _lognormal_usd(r, n_mis, 300, 1.2)))


def _merchants(w: _World, r: np.random.Generator) -> None:
    """Merchants: customer payments, payroll and suppliers; half of them cash out at an exchange."""
    b, span, users, user_w = w.b, w.span, w.users, w.user_w
    n_mer = b.n(600, 5)
    merchants = b.alloc("merchant", n_mer)
    mw = _weights(r, n_mer, 1.3)
    n_pay = b.n(60_000)
    tok = b.stable(r, n_pay)
    b.add(r.uniform(0, span, n_pay), tok, r.choice(users, n_pay, p=user_w), r.choice(merchants, n_pay, p=mw),
          b.usd_to_units(tok, _lognormal_usd(r, n_pay, 45, 1.1)))
    n_sup = b.n(6_000, 5)          # payroll and suppliers: merchant -> users and other merchants
    tok = b.stable(r, n_sup)
    to_m = r.random(n_sup) < 0.3
    b.add(r.uniform(0, span, n_sup), tok, r.choice(merchants, n_sup, p=mw),
          np.where(to_m, r.choice(merchants, n_sup), r.choice(users, n_sup)),
          b.usd_to_units(tok, _lognormal_usd(r, n_sup, 1500, 1.0)))
    cash = merchants[r.random(n_mer) < 0.5]
    if len(cash):
        mdep = w.deposit_address(cash, r)
        n_mc = b.n(3_000, 2)
        k = r.integers(0, len(cash), n_mc)
        t = r.uniform(0, span, n_mc)
        tok = b.stable(r, n_mc)
        amt = b.usd_to_units(tok, _lognormal_usd(r, n_mc, 4000, 1.0))
        b.add(t, tok, cash[k], mdep[k], amt)
        w.sweep(t, mdep[k], np.array([w.dep_of_new[int(x)] for x in mdep[k]]), tok, amt, r)


def _dex_pools(w: _World, r: np.random.Generator) -> None:
    """DEX pools: a swap is two transfers in one transaction."""
    b = w.b
    pools = b.alloc("dex_pool", len(DEX_PAIRS), entity="dex")
    for p, (x, y) in zip(pools, DEX_PAIRS, strict=True):
        b.label(p, "defi", f"DEX pool {x}/{y}", "demo-etherscan-labels", 20)
    pw = _weights(r, len(DEX_PAIRS), 1.0)
    n_sw = b.n(40_000)
    pi = r.choice(len(DEX_PAIRS), n_sw, p=pw)
    flip = r.random(n_sw) < 0.5
    a = np.array([b.by_symbol[x].index for x, _ in DEX_PAIRS])[pi]
    c = np.array([b.by_symbol[y].index for _, y in DEX_PAIRS])[pi]
    tin, tout = np.where(flip, c, a), np.where(flip, a, c)
    who = r.choice(w.users, n_sw, p=w.user_w)
    usd = _lognormal_usd(r, n_sw, 2000, 1.6)
    t = r.uniform(0, w.span, n_sw)
    local = np.arange(n_sw)
    b.add(np.concatenate([t, t]), np.concatenate([tin, tout]), np.concatenate([who, pools[pi]]),
          np.concatenate([pools[pi], who]),
          np.concatenate([b.usd_to_units(tin, usd), b.usd_to_units(tout, usd * 0.997)]),
          tx=np.concatenate([local, local]))


def _bridges(w: _World, r: np.random.Generator) -> None:
    """Bridge escrows: users lock and release stablecoins."""
    b = w.b
    bridges = b.alloc("bridge", 3, entity="bridges")
    for bk, i in enumerate(bridges):
        b.label(i, "bridge", f"Bridge {'ABC'[bk]}: escrow", "demo-etherscan-labels", 20)
    n_br = b.n(10_000)
    tok = b.stable(r, n_br)
    out = r.random(n_br) < 0.5
    who = r.choice(w.users, n_br, p=w.user_w)
    br = r.choice(bridges, n_br)
    b.add(r.uniform(0, w.span, n_br), tok, np.where(out, who, br), np.where(out, br, who),
          b.usd_to_units(tok, _lognormal_usd(r, n_br, 1500, 1.4)))


def _otc_desks(w: _World, r: np.random.Generator) -> None:
    """OTC desks (two publicly known, four not) trading with users and settling at exchanges."""
    b, span = w.b, w.span
    otc = w.otc = b.alloc("otc_desk", 6, entity="otc")
    b.label(otc[:2], "p2p_otc", "OTC desk (publicly listed)", "demo-etherscan-labels", 20)
    n_otc = b.n(20_000)
    tok = b.stable(r, n_otc)
    out = r.random(n_otc) < 0.5
    who = r.choice(w.users, n_otc, p=w.user_w)
    desk = r.choice(otc, n_otc, p=_weights(r, 6, 1.0))
    b.add(r.uniform(0, span, n_otc), tok, np.where(out, who, desk), np.where(out, desk, who),
          b.usd_to_units(tok, _lognormal_usd(r, n_otc, 3000, 1.3)))
    n_ot = b.n(2_000, 6)           # desks fund and settle at exchanges
    tok = b.stable(r, n_ot)
    ex = r.choice(w.n_ex, n_ot, p=w.ex_w)
    desk = r.choice(otc, n_ot)
    out = r.random(n_ot) < 0.5
    otc_dep = w.deposit_address(otc, r)
    amt = b.usd_to_units(tok, _lognormal_usd(r, n_ot, 50_000, 1.0))
    t = r.uniform(0, span, n_ot)
    dsel = otc_dep[desk - otc[0]]
    b.add(t, tok, np.where(out, desk, w.hot_of(r, ex)), np.where(out, dsel, desk), amt)
    o = np.flatnonzero(out)
    w.sweep(t[o], dsel[o], w.exchange_of(dsel[o]), tok[o], amt[o], r)


def _casino(w: _World, r: np.random.Generator) -> None:
    """A casino: one labelled deposit address, one unlabelled payout address."""
    b = w.b
    casino = b.alloc("casino", 2, entity="casino")
    b.label(casino[0], "gambling", "Casino Royale-ish: deposits", "demo-etherscan-labels", 20)
    n_cas = b.n(10_000)
    tok = b.stable(r, n_cas)
    out = r.random(n_cas) < 0.6
    who = r.choice(w.users, n_cas, p=w.user_w)
    cs = casino[(r.random(n_cas) < 0.6).astype(int)]
    b.add(r.uniform(0, w.span, n_cas), tok, np.where(out, who, cs), np.where(out, cs, who),
          b.usd_to_units(tok, _lognormal_usd(r, n_cas, 120, 1.3)))


def _rwa_funds(w: _World, r: np.random.Generator) -> None:
    """RWA fund investors: funded from exchanges, subscriptions and redemptions, secondary transfers."""
    b, span, null = w.b, w.span, w.null
    n_inv = b.n(800, 5)
    inv = b.alloc("rwa_investor", n_inv)
    rwa = [tk for tk in b.tokens if tk.kind == "rwa"]
    inv_fund = np.array([rwa[k].index for k in r.integers(0, len(rwa), n_inv)])
    n_f = b.n(1_500, 5)             # investors are funded from exchanges
    k = r.integers(0, n_inv, n_f)
    tok = b.stable(r, n_f)
    b.add(r.uniform(0, span * 0.3, n_f), tok, w.hot_of(r, r.choice(w.n_ex, n_f, p=w.ex_w)), inv[k],
          b.usd_to_units(tok, _lognormal_usd(r, n_f, 150_000, 1.0)))
    n_sub = b.n(3_000, 5)
    k = r.integers(0, n_inv, n_sub)
    fund = inv_fund[k]
    usd = np.round(_lognormal_usd(r, n_sub, 100_000, 1.0), -2) + 1000
    pay = np.where(r.random(n_sub) < 0.8, b.by_symbol["USDC"].index, b.by_symbol["USDT"].index)
    t = r.uniform(span * 0.2, span, n_sub)
    iss = np.array([w.issuer_of[int(f)] for f in fund])
    b.add(t, pay, inv[k], iss, usd)
    b.add(t + r.uniform(3600, 2 * DAY, n_sub), fund, null, inv[k], b.usd_to_units(fund, usd))
    n_red = b.n(1_000, 3)
    k = r.integers(0, n_inv, n_red)
    fund = inv_fund[k]
    usd = np.round(_lognormal_usd(r, n_red, 50_000, 1.0), -2) + 1000
    t = r.uniform(span * 0.4, span, n_red)
    iss = np.array([w.issuer_of[int(f)] for f in fund])
    b.add(t, fund, inv[k], null, b.usd_to_units(fund, usd))
    b.add(t + r.uniform(3600, 3 * DAY, n_red), b.by_symbol["USDC"].index, iss, inv[k], usd)
    n_rt = b.n(2_000, 3)           # secondary transfers of fund tokens between investors
    k = r.integers(0, n_inv, n_rt)
    b.add(r.uniform(span * 0.3, span, n_rt), inv_fund[k], inv[k], inv[r.integers(0, n_inv, n_rt)],
          b.usd_to_units(inv_fund[k], _lognormal_usd(r, n_rt, 20_000, 1.0)))


def _mixer(w: _World, r: np.random.Generator) -> None:
    """The mixer pool, its users, and the fresh addresses its withdrawals fund (which spend at exchanges)."""
    b, span = w.b, w.span
    (w.mixer,) = b.alloc("mixer_pool", 1, entity="mixer")
    b.label(w.mixer, "mixer", "Mixer pool (Tornado-like, fixed denominations)", "demo-etherscan-labels", 20)
    n_mu = b.n(300, 3)
    w.mix_users = r.choice(w.users, n_mu, replace=False)
    b.set_role(w.mix_users, "mixer_user")
    n_md = b.n(2_000, 3)
    fresh = b.alloc("mixer_recipient", b.n(600, 3), entity="mixer-recipients")
    tw, rc, usd = w.mix(r.uniform(0, span * 0.9, n_md), r.choice(w.mix_users, n_md),
                        _lognormal_usd(r, n_md, 3000, 1.5), fresh, r)
    # fresh addresses spend at exchanges and with other users
    fdep = w.deposit_address(fresh, r)
    to_ex = r.random(len(tw)) < 0.6
    t2 = tw + r.uniform(3600, 3 * DAY, len(tw))
    tok = np.full(len(tw), b.by_symbol["USDT"].index)
    idx = rc - fresh[0]
    dst = np.where(to_ex, fdep[idx], r.choice(w.users, len(tw), p=w.user_w))
    b.add(t2, tok, rc, dst, usd * 0.99)
    o = np.flatnonzero(to_ex)
    w.sweep(t2[o], fdep[idx][o], w.exchange_of(fdep[idx][o]), tok[o], usd[o] * 0.99, r)


def _sanctioned_payers(w: _World, r: np.random.Generator) -> None:
    """Sanctioned entities (most addresses listed) paying counterparties, who cash out at exchanges."""
    b, span = w.b, w.span
    n_ent = b.n(12, 2)
    cparties = b.alloc("sanctions_counterparty", b.n(400, 4))
    cdep = w.deposit_address(cparties, r)
    for e in range(n_ent):
        addrs = b.alloc("sanctioned_payer", int(r.integers(2, 6)), entity=f"sanctioned:{e}")
        listed = addrs[: max(1, int(len(addrs) * 0.7))]
        b.label(listed, "sanctions", f"OFAC SDN: sanctioned entity {e} (simulated)", "demo-ofac-sdn", 60)
        n_sp = b.n(1_500 / 12, 3)
        tok = b.stable(r, n_sp)
        t = r.uniform(0, span, n_sp)
        recv = cparties[r.integers(0, len(cparties), n_sp)]
        amt = b.usd_to_units(tok, _lognormal_usd(r, n_sp, 8000, 1.2))
        b.add(t, tok, r.choice(addrs, n_sp), recv, amt)
        # the counterparties cash out at their exchange accounts a few hours later
        cash_out = r.random(n_sp) < 0.7
        o = np.flatnonzero(cash_out)
        t2 = t[o] + r.uniform(1800, DAY, len(o))
        dd = cdep[recv[o] - cparties[0]]
        b.add(t2, tok[o], recv[o], dd, amt[o] * 0.995)
        w.sweep(t2, dd, w.exchange_of(dd), tok[o], amt[o] * 0.995, r)
        # and the entity is funded by transfers from OTC desks
        n_in = b.n(40, 2)
        tok = b.stable(r, n_in)
        b.add(r.uniform(0, span, n_in), tok, r.choice(w.otc, n_in), r.choice(addrs, n_in),
              b.usd_to_units(tok, _lognormal_usd(r, n_in, 80_000, 1.0)))


def _scam_operations(w: _World, r: np.random.Generator) -> None:
    """Scam operations: victims -> collectors -> layering hops -> mules -> exchange deposits."""
    b = w.b
    n_ops = b.n(15, 2)
    pool = w.users[np.isin(w.users, w.mix_users, invert=True)]
    victims_per_op = max(3, round(1_500 * b.scale / n_ops))
    victims_all = r.choice(pool, min(len(pool), n_ops * victims_per_op), replace=False)
    for op in range(n_ops):
        vict = victims_all[op * victims_per_op:(op + 1) * victims_per_op]
        if len(vict) == 0:
            break
        _scam_operation(w, r, op, vict)


def _scam_operation(w: _World, r: np.random.Generator, op: int, vict: np.ndarray) -> None:
    """One operation: its victims pay growing amounts to collectors, who forward daily takings through two
    layers of hops (a quarter of operations partly through the mixer) to mules who cash out at exchanges."""
    b, span = w.b, w.span
    usdt = b.by_symbol["USDT"].index
    ent = f"scam-op:{op}"
    b.set_role(vict, "victim", entity=ent)
    coll = b.alloc("collector", int(r.integers(2, 6)), entity=ent)
    hop1 = b.alloc("layering_hop", int(r.integers(2, 5)), entity=ent)
    hop2 = b.alloc("layering_hop", int(r.integers(2, 5)), entity=ent)
    mules = b.alloc("mule", int(r.integers(4, 15)), entity=ent)
    mdep = w.deposit_address(mules, r)
    # public knowledge: some collectors reported by victims, some of those frozen by Tether
    reported = coll[r.random(len(coll)) < 0.4]
    b.label(reported, "scam", f"Reported scam: investment fraud op {op}", "demo-scam-reports", 20)
    frozen = reported[r.random(len(reported)) < 0.5]
    b.label(frozen, "blacklist", "USDT AddedBlackList (simulated)", "demo-tether-blacklist", 100)
    start = r.uniform(0, span * 0.6)
    length = r.uniform(30, 90) * DAY
    # victims pay growing amounts (pig-butchering), each to one collector
    k = r.integers(1, 9, len(vict))
    v = np.repeat(vict, k)
    t = start + r.uniform(0, length, len(v))
    order = np.lexsort((t, v))
    v, t = v[order], t[order]
    step = np.arange(len(v)) - np.searchsorted(v, v, side="left")
    usd = np.round(r.lognormal(np.log(800), 0.8, len(v)) * (1.6 ** np.minimum(step, 8)), 2)
    tok = np.where(r.random(len(v)) < 0.85, usdt, b.by_symbol["USDC"].index)
    cv = _map(vict, coll[r.integers(0, len(coll), len(vict))], v)
    b.add(t, tok, v, cv, usd)
    # collectors forward their daily takings to a first-level hop (a quarter of ops use the mixer for part)
    day = np.floor((t - start) / DAY).astype(np.int64)
    key = cv * 10_000 + day
    uk, inv_k = np.unique(key, return_inverse=True)
    tot = np.bincount(inv_k, weights=usd)
    tlast = np.zeros(len(uk))
    np.maximum.at(tlast, inv_k, t)
    fsrc = uk // 10_000
    tf = tlast + r.uniform(1800, 6 * 3600, len(uk))
    fw_usd = np.round(tot * 0.98, 2)
    uses_mixer = r.random() < 0.25
    via_mix = (r.random(len(uk)) < 0.33) & uses_mixer & (fw_usd >= 100)
    h1 = hop1[r.integers(0, len(hop1), len(uk))]
    keep = ~via_mix
    b.add(tf[keep], usdt, fsrc[keep], h1[keep], fw_usd[keep])
    mix_t = np.empty(0)
    mix_rc = np.empty(0, dtype=np.int64)
    mix_usd = np.empty(0)
    if via_mix.any():
        recips = b.alloc("mixer_recipient", 3, entity=ent)
        mix_t, mix_rc, mix_usd = w.mix(tf[via_mix], fsrc[via_mix], fw_usd[via_mix], recips, r)
    # hop1 -> hop2 (peel: 85% on, 15% straight to a mule)
    n1 = int(keep.sum())
    t1 = tf[keep] + r.uniform(600, 4 * 3600, n1)
    h2 = hop2[r.integers(0, len(hop2), n1)]
    b.add(t1, usdt, h1[keep], h2, np.round(fw_usd[keep] * 0.85, 2))
    m0 = mules[r.integers(0, len(mules), n1)]
    b.add(t1 + 30, usdt, h1[keep], m0, np.round(fw_usd[keep] * 0.15, 2))
    # hop2 -> 2..4 mules
    parts = r.integers(2, 5, n1)
    src2 = np.repeat(h2, parts)
    t2 = np.repeat(t1, parts) + r.uniform(600, 6 * 3600, parts.sum())
    u2 = np.round(np.repeat(fw_usd[keep] * 0.85 / parts, parts), 2)
    m2 = mules[r.integers(0, len(mules), parts.sum())]
    b.add(t2, usdt, src2, m2, u2)
    # mixer recipients pay mules too
    if len(mix_t):
        m3 = mules[r.integers(0, len(mules), len(mix_t))]
        t3 = mix_t + r.uniform(3600, DAY, len(mix_t))
        b.add(t3, usdt, mix_rc, m3, np.round(mix_usd * 0.99, 2))
    else:
        m3, t3 = np.empty(0, dtype=np.int64), np.empty(0)
    # mules cash out at their exchange deposit addresses
    mm = np.concatenate([m0, m2, m3])
    tm = np.concatenate([t1 + 30, t2, t3]) + r.uniform(1800, 2 * DAY, len(mm))
    um = np.round(np.concatenate([fw_usd[keep] * 0.15, u2, mix_usd * 0.99]) * 0.99, 2)
    dd = mdep[mm - mules[0]]
    tok = np.full(len(mm), usdt)
    b.add(tm, tok, mm, dd, um)
    w.sweep(tm, dd, w.exchange_of(dd), tok, um, r)


def _address_poisoning(w: _World, r: np.random.Generator) -> None:
    """Address poisoning: look-alike dust after a real transfer; a few targets fall for it."""
    b, span, users = w.b, w.span, w.users
    gang = b.alloc("poisoner", 3, entity="poisoning-gang")
    b.label(gang[:1], "phishing", "Fake_Phishing (address poisoning gang)", "demo-scam-reports", 20)
    n_poison = b.n(30_000)
    k = r.integers(0, w.n_users, n_poison)
    target_user = users[k]
    # the counterparty the target pays often: a random exchange deposit or a user
    has_dep = np.isin(target_user, w.dep_user)
    dep_pos = np.searchsorted(w.dep_user, target_user, sorter=np.argsort(w.dep_user, kind="stable"))
    dep_sorted = w.dep_addr[np.argsort(w.dep_user, kind="stable")]
    mimic = np.where(has_dep, dep_sorted[np.minimum(dep_pos, len(dep_sorted) - 1)],
                     r.choice(users, n_poison, p=w.user_w))
    looks = b.alloc("poisoner", n_poison, entity="poisoning-gang")
    b.lookalike.append((looks, mimic))
    b.label(looks[r.random(n_poison) < 0.3], "phishing", "Fake_Phishing (address poisoning)",
            "demo-scam-reports", 20)
    t = r.uniform(0, span, n_poison)
    tok = np.where(r.random(n_poison) < 0.7, b.by_symbol["USDT"].index, b.by_symbol["USDC"].index)
    zero = r.random(n_poison) < 0.6
    b.add(t, tok, looks, target_user, np.where(zero, 0.0, r.choice([0.001, 0.01, 0.1], n_poison)))
    # 0.3% of targets copy the wrong address from their history and pay the look-alike
    fell = np.flatnonzero(r.random(n_poison) < 0.003)
    if len(fell):
        tf = t[fell] + r.uniform(DAY, 5 * DAY, len(fell))
        usd = _lognormal_usd(r, len(fell), 5_000, 1.2)
        b.add(tf, tok[fell], target_user[fell], looks[fell], usd)
        tg = tf + r.uniform(60, 3600, len(fell))
        g = gang[r.integers(0, 3, len(fell))]
        b.add(tg, tok[fell], looks[fell], g, usd)
        gdep = w.deposit_address(gang, r)
        tc = tg + r.uniform(DAY, 3 * DAY, len(fell))
        dd = gdep[g - gang[0]]
        b.add(tc, tok[fell], g, dd, usd * 0.99)
        w.sweep(tc, dd, w.exchange_of(dd), tok[fell], usd * 0.99, r)


def _map(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """values[keys.index(q)] for each q (keys unique)."""
    order = np.argsort(keys, kind="stable")
    return values[order[np.searchsorted(keys, query, sorter=order)]]


def _finish(b: _Builder, span: float) -> Economy:
    t = np.concatenate([e[0] for e in b.ev])
    tok = np.concatenate([e[1] for e in b.ev])
    src = np.concatenate([e[2] for e in b.ev])
    dst = np.concatenate([e[3] for e in b.ev])
    amt = np.concatenate([e[4] for e in b.ev])
    tx = np.concatenate([e[5] for e in b.ev])
    # chain order: by time, ties in insertion order (a transaction's transfers share one time and were added
    # together, in log order). A plain sort plus a fix-up of the tied runs: a stable sort of ~10M floats is
    # several times slower, and the plain sort's own tie order may differ between CPUs.
    order = np.argsort(t)
    ts = t[order]
    tie = np.flatnonzero(ts[1:] == ts[:-1])
    if len(tie):
        pos = np.unique(np.concatenate([tie, tie + 1]))
        sub = order[pos]                     # original indexes = insertion order
        order[pos] = sub[np.lexsort((sub, ts[pos]))]
    t, tok, src, dst, amt, tx = t[order], tok[order], src[order], dst[order], amt[order], tx[order]
    block = (START_BLOCK + np.floor(np.maximum(t, 0) / BLOCK_SECONDS)).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]]) if len(block) else np.zeros(0, np.int64)
    first = np.repeat(starts, np.diff(np.r_[starts, len(block)]))
    log_index = (np.arange(len(block)) - first).astype(np.int32)
    decimals = np.array([x.decimals for x in b.tokens])
    units = np.rint(amt * 10.0 ** np.minimum(decimals[tok], 6)).astype(np.int64)

    # addresses: random 20 bytes per id, the literal ones, then look-alikes of their targets
    chars = _hex_chars(_hash_words(np.arange(b.n_addr), b.seed ^ 0x5EED, 3)[:, :20])
    for i, a in b.fixed.items():
        chars[i] = np.frombuffer(a.encode("ascii"), dtype=np.uint8)
    for ids, targets in b.lookalike:
        chars[ids, :6] = chars[targets, :6]          # '0x' + the first four hex digits
        chars[ids, -4:] = chars[targets, -4:]        # and the last four
    addresses = _strings_from_chars(chars)

    roles = np.concatenate(b.role_chunks)
    ents = np.concatenate(b.entity_chunks)
    labelled = np.zeros(b.n_addr, dtype=bool)
    lab_ids = np.array([x[0] for x in b.labels], dtype=np.int64)
    labelled[lab_ids] = True
    labels = pa.table({
        "address": addresses.take(pa.array(lab_ids)),
        "category": [x[1] for x in b.labels],
        "label": [x[2] for x in b.labels],
        "source": [x[3] for x in b.labels],
        "confidence": pa.array([x[4] for x in b.labels], pa.int32()),
        "chain": [CHAIN] * len(b.labels),
    })
    # every address that takes part (the null address has no role worth scoring but is kept for completeness)
    truth = pa.table({
        "address": addresses,
        "role": pa.array(np.array(ROLES, dtype=object)[roles], pa.string()),
        "entity": pa.array(np.array(b.entities, dtype=object)[ents], pa.string()),
        "labelled": pa.array(labelled),
    })
    declared = _declared(b, roles, addresses)
    return Economy(
        seed=b.seed, scale=b.scale, tokens=b.tokens, labels=labels, truth=truth, declared=declared,
        _block=block, _log_index=log_index, _tx=tx, _token=tok, _src=src, _dst=dst, _units=units,
        _addresses=addresses,
    )


# Mix of roles in a bank's file of customer-declared addresses.
_DECLARED_MIX = {
    "p2p_user": 0.52, "merchant": 0.08, "exchange_deposit": 0.12, "rwa_investor": 0.03, "victim": 0.05,
    "mule": 0.03, "collector": 0.01, "layering_hop": 0.01, "sanctions_counterparty": 0.02, "mixer_user": 0.02,
    "mixer_recipient": 0.01, "otc_desk": 0.005,
}


def _declared(b: _Builder, roles: np.ndarray, addresses: pa.Array) -> pa.Table:
    """Customer-declared addresses, as a bank would export them: its own columns, ~5% never seen on chain,
    ~1% malformed, some in EIP-55 mixed case or with stray spaces."""
    from ..address import to_checksum

    r = np.random.default_rng(np.random.SeedSequence([b.seed, 0xDEC1]))
    n = max(40, round(2_000 * b.scale))
    picked: list[int] = []
    for role, share in _DECLARED_MIX.items():
        pool = np.flatnonzero(roles == ROLES.index(role))
        k = min(len(pool), max(1, round(n * share)))
        if k:
            picked.extend(r.choice(pool, k, replace=False).tolist())
    addr = addresses.take(pa.array(picked, pa.int64())).to_pylist()
    n_unseen = max(2, round(n * 0.05))
    unseen = _hex_strings(_hash_words(np.arange(n_unseen) + 10**12, b.seed, 3)[:, :20]).to_pylist()
    out = addr + unseen
    r.shuffle(out)
    # presentation: mixed case (valid checksum) and stray spaces, as typed or pasted by customers
    for i in range(len(out)):
        x = r.random()
        if x < 0.05:
            out[i] = to_checksum(out[i])
        elif x < 0.07:
            out[i] = f" {out[i]} "
    n_bad = max(1, round(len(out) * 0.01))
    bad_kinds = ["truncated", "checksum", "junk", "empty"]
    for j, i in enumerate(r.choice(len(out), n_bad, replace=False).tolist()):
        kind = bad_kinds[j % len(bad_kinds)]
        a = out[i].strip().lower()
        if kind == "truncated":
            out[i] = a[:-3]
        elif kind == "checksum":
            cs = to_checksum(a)
            flipped = next((k for k, c in enumerate(cs) if k > 1 and c.isalpha()), None)
            out[i] = cs if flipped is None else cs[:flipped] + cs[flipped].swapcase() + cs[flipped + 1:]
        elif kind == "junk":
            out[i] = "see attached screenshot"
        else:
            out[i] = ""
    m = len(out)
    names = [f"{_SURNAMES[int(r.integers(len(_SURNAMES)))]} {_GIVEN[int(r.integers(len(_GIVEN)))]}"
             for _ in range(m)]
    days = r.integers(0, 365 * 2, m)
    declared_at = [(dt.date(2023, 1, 1) + dt.timedelta(days=int(d))).isoformat() for d in days]
    return pa.table({
        "customer_id": [f"C{100000 + i:07d}" for i in range(m)],
        "name": names,
        "declared_at": declared_at,
        "address": out,
    })
