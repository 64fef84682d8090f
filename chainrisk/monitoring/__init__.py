"""Monitoring: watchlists, alerts after every scoring run, their delivery, and continuous operation.

* :mod:`.watch`: the bank's watched addresses, each with its own reference (CLI, file, service);
* :mod:`.alerts`: after each complete run, the watched addresses' changes against the previous run, by the
  profile's ``[alerts]`` rules; append-only, idempotent, acknowledged or retracted by appended events;
* :mod:`.delivery`: signed, batched webhooks with retries and a dead-letter state; CSV/JSON export;
* :mod:`.follow`: follow a node (new finalized blocks), rescore, raise and deliver alerts, in one process;
* :mod:`.timeparse`: ISO times from the command line and queries.

See docs/monitoring.md.
"""
