"""The demo's TRON economy: a second simulated economy, moved onto TRON, beside the Ethereum one.

Most USDT that mainland OTC desks move is TRC-20, so the demo has a TRON side: :func:`tron_economy` generates an
economy with its own seed (the same structures: exchanges with deposit addresses that sweep to hot wallets, OTC
desks, scam operations with collectors and mules, address poisoning, mints and burns through the null address)
and moves it onto TRON:

- every address becomes its TRON twin, base58check of ``0x41 ‖`` the same 20 bytes (the null address becomes
  TRON's ``T9yD14...``);
- stablecoins become TRC-20 USDT (``TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t``), except USDC flows, which stay USDC
  (``TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8``): USDT-TRC20 is the dominant rail, as on the real chain; RWA tokens
  (not on TRON) are left out;
- blocks every 3 s from block 70,000,000; tx ids written bare, as TRON's tools write them.

The files are the real TRON input shapes: tronetl's ``token_transfers.csv`` and ``blocks.csv`` (imported with
``ingest_file(..., format="tronetl", chain="tron")``), the public labels as a generic label CSV with chain
``tron``, the ground truth, and a bank's declared TRON addresses. Deterministic in (scale, seed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..ingest.tron_b58 import hex_to_b58
from .economy import BLOCK_SECONDS, START_BLOCK, Economy, _hash_words, _hex_strings, generate_economy

TRON_USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
TRON_USDC = "TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8"
TRON_START_BLOCK = 70_000_000
TRON_BLOCK_SECONDS = 3
#: the TRON economy's size relative to the Ethereum one, and its seed offset
TRON_SHARE = 0.25
SEED_OFFSET = 1000


@dataclass
class TronFiles:
    transfers: Path
    blocks: Path
    labels: Path
    truth: Path
    declared: Path
    n_transfers: int
    n_labels: int
    n_addresses: int
    truth_table: pa.Table


def _to_tron(values: pa.Array) -> pa.Array:
    enc = pc.dictionary_encode(values)
    dic = enc.dictionary.to_pylist()
    conv = hex_to_b58([str(x).lower() if x is not None else "" for x in dic])
    return pc.take(pa.array(conv, pa.string()), enc.indices)


def tron_economy(scale: float, seed: int, folder: Path) -> TronFiles:
    """Generate the TRON economy (``TRON_SHARE`` of ``scale``) and write its files into ``folder``."""
    eco = generate_economy(scale * TRON_SHARE, seed + SEED_OFFSET)
    return write_tron_files(eco, folder)


def write_tron_files(eco: Economy, folder: Path) -> TronFiles:
    folder.mkdir(parents=True, exist_ok=True)
    kinds = np.array([t.kind == "stablecoin" for t in eco.tokens])
    usdc = np.array([t.symbol == "USDC" for t in eco.tokens])
    decimals = np.array([t.decimals for t in eco.tokens])
    keep = kinds[eco._token]
    tok = eco._token[keep]
    # units are at min(decimals, 6) decimals: scale the few-decimal ones (GUSD: 2) up to TRC-20's 6
    units = eco._units[keep] * (10 ** (6 - np.minimum(decimals[tok], 6))).astype(np.int64)
    contract = pa.array(np.where(usdc[tok], TRON_USDC, TRON_USDT).astype(object), pa.string())
    addresses = _to_tron(eco._addresses)
    block = eco._block[keep]
    secs = (block - START_BLOCK).astype(np.int64) * BLOCK_SECONDS
    tblock = TRON_START_BLOCK + secs // TRON_BLOCK_SECONDS
    tx = _hex_strings(_hash_words(eco._tx[keep], eco.seed, 4))
    table = pa.table({
        "token_address": contract,
        "from_address": addresses.take(pa.array(eco._src[keep])),
        "to_address": addresses.take(pa.array(eco._dst[keep])),
        "value": pc.cast(pa.array(units), pa.string()),
        "transaction_hash": pc.utf8_slice_codeunits(tx, 2),
        "log_index": pa.array(eco._log_index[keep]),
        "block_number": pa.array(tblock),
    })
    transfers = folder / "tron_token_transfers.csv"
    pacsv.write_csv(table, transfers)
    ub = np.unique(tblock)
    from .economy import START_TIME

    start = int(START_TIME.timestamp())
    blocks = folder / "tron_blocks.csv"
    pacsv.write_csv(pa.table({"number": pa.array(ub),
                              "timestamp": pa.array(start + (ub - TRON_START_BLOCK) * TRON_BLOCK_SECONDS)}), blocks)
    # the Ethereum token contracts' twins are not TRON's token contracts: their labels are left out; the sources
    # get a "-tron" suffix (a source is replaced as a whole on import: the Ethereum side keeps its own)
    labels = eco.labels.filter(pc.not_equal(eco.labels["category"], "token_contract"))
    labels = labels.set_column(labels.schema.get_field_index("address"), "address",
                               _to_tron(labels["address"].combine_chunks()))
    labels = labels.set_column(labels.schema.get_field_index("source"), "source",
                               pc.binary_join_element_wise(labels["source"], "tron", "-"))
    labels = labels.set_column(labels.schema.get_field_index("chain"), "chain",
                               pa.array(["tron"] * labels.num_rows, pa.string()))
    labels_path = folder / "tron_labels.csv"
    pacsv.write_csv(labels, labels_path)
    truth = eco.truth.set_column(0, "address", _to_tron(eco.truth["address"].combine_chunks()))
    truth_path = folder / "tron_truth.csv"
    pacsv.write_csv(truth, truth_path)
    # the bank's declared TRON addresses: the Ethereum-side sample's roles, in TRON form (malformed stay malformed)
    dec = eco.declared
    raw = dec["address"].combine_chunks()
    conv = _to_tron(pc.utf8_trim_whitespace(raw))
    declared = dec.set_column(dec.schema.get_field_index("address"), "address",
                              pc.if_else(pc.is_valid(conv), conv, raw))
    declared_path = folder / "tron_declared_addresses.csv"
    pacsv.write_csv(declared, declared_path)
    return TronFiles(transfers, blocks, labels_path, truth_path, declared_path, table.num_rows, labels.num_rows,
                     truth.num_rows, truth)
