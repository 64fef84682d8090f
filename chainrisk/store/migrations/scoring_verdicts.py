"""Two verdicts and an action per address (issue 11), applied after ``scoring`` and ``scoring_engine``.

The contract between the risk engine (writer) and lookup/screen/report/service (readers). Nothing existing is
removed or renamed; ``score``/``band``/``reason``/``top_category`` stay, as the **combined** view (the largest of
the two axes and of any category on neither axis, e.g. ``other``), for existing callers.

``scores`` gains, per address:

* ``illicit_score`` 0..100, ``illicit_band`` (none|low|medium|high|severe), ``illicit_reason`` (one sentence),
  ``illicit_top_category``: links to crime, over the profile's ``[axes] illicit`` categories (sanctions,
  blacklist, mixer, scam, phishing, hack, ransomware, darknet, terrorism_financing), own labels, exposure,
  behavioural indicators and their corroboration;
* ``illicit_confidence``: how sure the illicit verdict is, ``high`` (own label of confidence >= 50, or exposure
  at hop 1 to a labelled source), ``medium`` (hops 2-3, a web-crawl label, exposure corroborated by an indicator),
  ``low`` (hop >= 4, a heuristic label, a source the engine inferred, an indicator alone); NULL when the illicit
  score is 0. Hops lower this, never the traced amount;
* ``possible_victim``: true when the illicit verdict rests on *outgoing* funds to fraud/phishing (scam, phishing, blacklist)
  without a corroborating indicator (a payer, not a perpetrator); such an illicit score is at most ``medium`` and
  the reason starts "possible victim: ...";
* ``vc_score``, ``vc_band``, ``vc_reason``, ``vc_top_category``: involvement with virtual-currency business, over
  the profile's ``[axes] vc_business`` categories (gambling, exchange, p2p_otc, rwa_issuer, stablecoin_issuer,
  mining, bridge, defi); own labels and exposure only (behavioural indicators are illicit red flags);
* ``action``: ``none | review | sever | report | sever_and_report``, from the profile's ``[action]`` thresholds
  (``cn``: vc_business >= medium -> sever, illicit >= high -> report, illicit >= medium -> review;
  ``fatf``: illicit >= high -> report, illicit or vc_business >= medium -> review, never sever).

``exposures`` gains ``inferred``: true for a row whose sources are only addresses the engine inferred this run
(collectors flagged by the ``collector`` indicator become heuristic ``scam`` sources). A category and direction can
then have two rows per hop class, one labelled (``inferred = false``) and one inferred; exposure to inferred
sources alone scores at most ``medium`` unless an indicator corroborates it.

``inferred_labels`` gains ``source``: ``chainrisk:inferred`` (heuristic, confidence 10: deposit addresses, inferred
collectors, first recipients of mints / senders of burns as ``stablecoin_issuer`` / ``rwa_issuer`` operations
addresses) or ``chainrisk:ledger`` (ledger-immanent, confidence 100: ``rwa_investor``, holders of a registered RWA
token); ``method`` names the rule (deposit_sweep, collector, rwa_holder, issuer_mint, issuer_burn) and ``evidence``
(JSON) names the transfer(s) behind it.

``indicators`` may hold the engine's ``forwarding`` indicator (a substantial tainted inflow forwarded within
hours, judged per event; evidence: the inflow and the outflows that forwarded it).
"""

MIGRATIONS = [
    # v1
    """
    ALTER TABLE scores ADD COLUMN illicit_score DOUBLE;
    ALTER TABLE scores ADD COLUMN illicit_band VARCHAR;
    ALTER TABLE scores ADD COLUMN illicit_reason VARCHAR;
    ALTER TABLE scores ADD COLUMN illicit_top_category VARCHAR;
    ALTER TABLE scores ADD COLUMN illicit_confidence VARCHAR;
    ALTER TABLE scores ADD COLUMN possible_victim BOOLEAN;
    ALTER TABLE scores ADD COLUMN vc_score DOUBLE;
    ALTER TABLE scores ADD COLUMN vc_band VARCHAR;
    ALTER TABLE scores ADD COLUMN vc_reason VARCHAR;
    ALTER TABLE scores ADD COLUMN vc_top_category VARCHAR;
    ALTER TABLE scores ADD COLUMN action VARCHAR;
    ALTER TABLE exposures ADD COLUMN inferred BOOLEAN;
    ALTER TABLE inferred_labels ADD COLUMN source VARCHAR;
    """,
]
