"""Defaults that more than one command uses, defined once."""
from decimal import Decimal

LEARNING_RATE = Decimal("0.01")   # η when neither --lr nor [values].learning_rate gives one
CLAIM_TIMEOUT = 5.0               # seconds `check` spends on one claim by default
CHECK_SECONDS = 600.0             # seconds a whole `check` run may take by default (--max-time)
