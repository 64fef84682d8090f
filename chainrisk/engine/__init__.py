"""The risk engine: one scoring run (score), the pure model and propagation, indicators, evidence."""
