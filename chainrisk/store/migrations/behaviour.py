"""The behaviour part of the illicit verdict (issue 12), applied after the scoring components.

``scores`` gains, per address of a run made with the behaviour model on (all NULL when it was off, and for runs
made before the model existed):

* ``behaviour_score`` 0..100: the learned model's behaviour part (``chainrisk/data/models/behaviour.json``; the
  run's ``params_json`` names the model by content hash and feature-definitions version). It joins the illicit
  verdict only at or above the profile's ``[behaviour] min_part``: alone at most the profile's
  ``alone_at_most`` band, with an illicit exposure or indicator as a noisy-OR (``illicit_reason`` says which);
* ``behaviour_features`` / ``behaviour_values`` / ``behaviour_contributions``: the (at most three) features that
  push the model's log-odds up most for this address, largest first, with the feature's value in natural units
  (counts, USD, hours, days, shares) and its contribution to the log-odds. Meanings: ``docs/behaviour.md``.
"""

MIGRATIONS = [
    # v1
    """
    ALTER TABLE scores ADD COLUMN behaviour_score DOUBLE;
    ALTER TABLE scores ADD COLUMN behaviour_features VARCHAR[];
    ALTER TABLE scores ADD COLUMN behaviour_values DOUBLE[];
    ALTER TABLE scores ADD COLUMN behaviour_contributions DOUBLE[];
    """,
]
