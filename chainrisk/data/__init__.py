"""chainrisk's bundled facts, shipped as package data: the token registry (``tokens.csv``) and the label
registry (``labels/*.csv``), each row with its public source. ``datasets/`` at the repository root points here."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
TOKENS_CSV = DATA_DIR / "tokens.csv"
LABELS_DIR = DATA_DIR / "labels"
