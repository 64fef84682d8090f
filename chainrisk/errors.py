"""The one error hierarchy of chainrisk.

Every error a user can meet is a :class:`ChainriskError`. Each class carries the process exit code the CLI
uses, so the translation to exit codes happens in one place (``chainrisk.cli``) and nobody branches on message
text. The message is one sentence saying what went wrong, then what to do.

    ChainriskError                 exit 1 (generic; not raised directly)
    ├── UsageError                 exit 2  bad options or arguments
    ├── PartialError               exit 3  the run finished but some work was not done (details in the report)
    ├── InputError                 exit 4  a file, row or address that cannot be used
    │   └── InvalidAddress                 an address string that is not a valid EVM or TRON address
    ├── SourceUnavailable          exit 5  a node or HTTP source that is down, times out or keeps refusing
    │   └── RpcError                       a JSON-RPC error the node kept returning
    └── StoreError                 exit 6  the DuckDB store cannot be opened, is locked, or has a newer schema
        ├── NoScoringRun           exit 7  the store has no scoring run yet
        └── OutOfMemory                    DuckDB hit its memory limit (the message names the option to raise it)
"""

from __future__ import annotations


class ChainriskError(Exception):
    """Base of every error chainrisk raises on purpose."""

    exit_code = 1


class UsageError(ChainriskError):
    exit_code = 2


class PartialError(ChainriskError):
    exit_code = 3


class InputError(ChainriskError):
    exit_code = 4


class InvalidAddress(InputError, ValueError):
    def __init__(self, value: str, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"invalid address {value!r}: {reason}")


class SourceUnavailable(ChainriskError):
    exit_code = 5


class RpcError(SourceUnavailable):
    def __init__(self, message: str, code: int | None = None, data: object = None) -> None:
        self.code = code
        self.data = data
        super().__init__(message)


class StoreError(ChainriskError):
    exit_code = 6


class NoScoringRun(StoreError):
    exit_code = 7


class OutOfMemory(StoreError):
    """DuckDB ran out of the memory it may use: not a fault of the input."""


EXIT_CODES = {
    "ok": 0,
    "hits": 1,
    "usage": UsageError.exit_code,
    "partial": PartialError.exit_code,
    "bad_input": InputError.exit_code,
    "source_unavailable": SourceUnavailable.exit_code,
    "store": StoreError.exit_code,
    "no_scoring_run": NoScoringRun.exit_code,
}
