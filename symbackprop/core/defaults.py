"""Defaults and limits that more than one command uses, defined once.

Imports nothing (the command line reads it before SymPy is loaded, for a fast ``--help``)."""
from decimal import Decimal

LEARNING_RATE = Decimal("0.01")   # η when neither --lr nor [values].learning_rate gives one
CLAIM_TIMEOUT = 5.0               # seconds `check` spends on one claim by default
CHECK_SECONDS = 600.0             # seconds a whole `check` run may take by default (--max-time)

# What derivation costs grows with the parameters (one symbol, one gradient expression
# each): 784-256-10 (203,530) takes about 13 s and 350 MB; a 1000×1000 layer over a
# minute and 1 GB.  The limit keeps every command within about 15 s and 400 MB.
MAX_PARAMETERS = 250_000
MAX_LAYERS = 500       # 1,000 layers of 2: derive 14 s; 10,000: eval alone 30 s
