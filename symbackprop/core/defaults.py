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

# [optimizer] (issue #20): PyTorch's defaults (torch.optim, 2.13), per optimiser.  torch has
# no "momentum" or "nesterov" optimiser, only SGD(momentum=μ, nesterov=…), whose μ
# defaults to 0 (and nesterov refuses μ = 0): those two names default to μ = 0.9.
OPTIMIZER_DEFAULTS = {
    "sgd": {"lr": Decimal("0.001"), "momentum": Decimal("0"), "weight_decay": Decimal("0")},
    "momentum": {"lr": Decimal("0.001"), "momentum": Decimal("0.9"), "weight_decay": Decimal("0")},
    "nesterov": {"lr": Decimal("0.001"), "momentum": Decimal("0.9"), "weight_decay": Decimal("0")},
    "rmsprop": {"lr": Decimal("0.01"), "alpha": Decimal("0.99"), "eps": Decimal("1e-8"),
                "momentum": Decimal("0"), "weight_decay": Decimal("0")},
    "adam": {"lr": Decimal("0.001"), "beta1": Decimal("0.9"), "beta2": Decimal("0.999"),
             "eps": Decimal("1e-8"), "weight_decay": Decimal("0")},
    "adamw": {"lr": Decimal("0.001"), "beta1": Decimal("0.9"), "beta2": Decimal("0.999"),
              "eps": Decimal("1e-8"), "weight_decay": Decimal("0.01")},
}
# the schedules (torch.optim.lr_scheduler StepLR, ExponentialLR, CosineAnnealingLR):
# their keys, None where torch has no default (the key is required)
SCHEDULE_DEFAULTS = {
    "step": {"step_size": None, "gamma": Decimal("0.1")},
    "exponential": {"gamma": None},
    "cosine": {"T_max": None, "eta_min": Decimal("0")},
}
