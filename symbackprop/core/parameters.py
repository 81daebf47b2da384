"""Parameter values: from a spec's ``[values]`` or seeded random initialisation.

Every array is in [target][source] layout: ``W<l>[j][k]`` is the weight
from neuron k of layer l−1 to neuron j of layer l.
"""
from __future__ import annotations

from decimal import Decimal

import numpy as np

from .errors import suggest
from .spec import VALUE_KEYS, Spec, SpecError


def array_shapes(spec: Spec) -> dict[str, tuple[int, ...]]:
    """W<l> and b<l> of every dense layer (add and flatten layers have none)."""
    return spec.array_shapes()


def initial_parameters(spec: Spec, seed: int) -> dict[str, np.ndarray]:
    """Seeded random parameters: W ~ N(0, 1/n_in), b ~ N(0, 0.01)."""
    rng = np.random.default_rng(seed)
    params = {}
    for key, shape in array_shapes(spec).items():
        fan_in = int(np.prod(shape[1:])) if len(shape) >= 2 else 1   # conv: in × kh × kw
        std = 1.0 / np.sqrt(fan_in) if key.startswith("W") else 0.1
        params[key] = rng.normal(0.0, std, size=shape)
    return params


def parameters_from_spec(spec: Spec, init: int | None = None,
                         names: dict[str, list[tuple[str, tuple[int, ...]]]] | None = None,
                         exact: bool = False) -> dict[str, np.ndarray]:
    """The layer arrays of ``spec``'s ``[values]``, completed by ``init`` if given.

    ``names`` maps a parameter name to its slots [(array, index), ...] so that
    scalar values (``w1 = 0.15``) can be placed.  ``exact`` keeps ``Decimal``
    entries (object arrays) for exact arithmetic.
    """
    values = spec.values
    params: dict[str, np.ndarray] = {}
    given = values.arrays if values else {}
    for key, shape in array_shapes(spec).items():
        if key in given:
            params[key] = np.array(given[key], dtype=object).reshape(shape)
        else:
            params[key] = np.full(shape, None, dtype=object)
    for name, value in (values.scalars.items() if values else ()):
        slots = (names or {}).get(name)
        if not slots:
            known = ", ".join(sorted(names or {})) or "none (add a [names] table or a numbered notation)"
            raise SpecError(f"{spec.source}: key `values.{name}`: no parameter is named {name!r}; "
                            f"a scalar in [values] is the value of a named parameter. Known names: {known}.")
        for key, index in slots:
            if key in given:
                raise SpecError(f"{spec.source}: key `values.{name}`: {name} is also given by "
                                f"values.{key}; give each parameter one value.")
            params[key][index] = value
    random = initial_parameters(spec, init) if init is not None else None
    for key, arr in params.items():
        missing = [i for i, v in np.ndenumerate(arr) if v is None]
        if missing and random is None:
            raise SpecError(f"{spec.source}: key `values.{key}`: missing values for {key} "
                            f"(shape {'×'.join(map(str, arr.shape))}); give them in [values] "
                            "or pass --init SEED for seeded random initialisation.")
        for i in missing:
            arr[i] = Decimal(repr(float(random[key][i])))
    if exact:
        return params
    return {key: arr.astype(float) for key, arr in params.items()}


def samples_from_spec(spec: Spec, exact: bool = False):
    """(X, Y) with one example per column, or a SpecError if there are none."""
    if spec.values is None or not spec.values.samples:
        raise SpecError(f"{spec.source}: key `values`: no example to evaluate; give "
                        "values.x and values.y (or [[values.samples]]).")
    dtype = object if exact else float
    X = np.array([s.x for s in spec.values.samples], dtype=object).T.astype(dtype)
    Y = np.array([s.y for s in spec.values.samples], dtype=object).T.astype(dtype)
    return X, Y


# ---- named, tied and frozen parameters --------------------------------
# ``slots`` (from the notation) maps a name to its places [(array, index), …];
# a name with several places is one shared (tied) parameter.

def check_value_names(spec: Spec, slots) -> None:
    """Every scalar of ``[values]`` (``w1 = 0.15``) and every frozen name is a parameter
    name of the notation: a typo (``learning_rat = 0.1``) is an error with a did-you-mean,
    at once, whatever the command."""
    if spec.values is None:
        return
    known = ", ".join(sorted(slots or {})) or "none (add a [names] table or a numbered notation)"
    for name in spec.values.scalars:
        if name not in (slots or {}):
            hint = suggest(name, list(slots or {}) + list(VALUE_KEYS))
            raise SpecError(f"{spec.source}: key `values.{name}`: unknown key: no parameter is "
                            f"named {name!r} (a scalar in [values] is the value of a named "
                            f"parameter).{hint} Known names: {known}; other keys: "
                            f"{', '.join(VALUE_KEYS)}, W1…, b1….")
    for name in spec.values.frozen:
        if name not in (slots or {}):
            raise SpecError(f"{spec.source}: key `values.frozen`: no parameter is named "
                            f"{name!r}.{suggest(name, slots or {})} Known names: {known}.")


def check_named(spec: Spec, slots, params: dict[str, np.ndarray]) -> None:
    """Frozen names must exist; the places of a tied name must hold one value."""
    frozen = spec.values.frozen if spec.values else ()
    for name in frozen:
        if name not in (slots or {}):
            known = ", ".join(sorted(slots or {})) or "none (add a [names] table or a numbered notation)"
            raise SpecError(f"{spec.source}: key `values.frozen`: no parameter is named {name!r}. "
                            f"Known names: {known}.")
    for name, places in (slots or {}).items():
        values = {float(params[key][index]) for key, index in places}
        if len(values) > 1:
            where = ", ".join(f"{key}{list(index)}" for key, index in places)
            raise SpecError(f"{spec.source}: key `values`: {name} is one shared parameter at "
                            f"{where} but is given different values {sorted(values)}; give it "
                            f"one value (e.g. `{name} = …` in [values]).")


def tie_gradients(grads: dict[str, np.ndarray], slots) -> dict[str, np.ndarray]:
    """Every place of a tied name gets the sum over its places (the total derivative)."""
    tied = {key: g.copy() for key, g in grads.items()}
    for places in (slots or {}).values():
        if len(places) > 1:
            total = sum(grads[key][index] for key, index in places)
            for key, index in places:
                tied[key][index] = total
    return tied


def frozen_mask(spec: Spec, slots) -> dict[str, np.ndarray] | None:
    """True at every place of a frozen name, for ``numeric.update``."""
    frozen = spec.values.frozen if spec.values else ()
    if not frozen:
        return None
    mask = {key: np.zeros(shape, dtype=bool) for key, shape in array_shapes(spec).items()}
    for name in frozen:
        for key, index in slots[name]:
            mask[key][index] = True
    return mask


def by_name(spec: Spec, slots, params, grads, updated) -> dict[str, dict]:
    """{name: {value, gradient, updated, frozen}}; a tied gradient is the sum over its places."""
    frozen = set(spec.values.frozen if spec.values else ())
    table = {}
    for name, places in (slots or {}).items():
        key, index = places[0]
        table[name] = {"value": float(params[key][index]),
                       "gradient": float(sum(grads[k][i] for k, i in places)),
                       "updated": float(updated[key][index]), "frozen": name in frozen}
    return table
