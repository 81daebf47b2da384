"""Independent oracles: written from the textbook definitions, sharing no
code with symbackprop's derivation or numeric path."""
from __future__ import annotations

import numpy as np
import sympy as sp

# ---- symbolic definitions (for sympy.diff of the fully expanded loss) ----

def sym_activation(name, z_list, alpha=None):
    """alpha: leaky_relu's slope (default 1/100) or elu's α (default 1)."""
    if name == "identity":
        return list(z_list)
    if name == "sigmoid":
        return [1 / (1 + sp.exp(-z)) for z in z_list]
    if name == "tanh":
        return [sp.tanh(z) for z in z_list]
    if name == "relu":
        return [sp.Piecewise((0, z <= 0), (z, True)) for z in z_list]
    if name == "leaky_relu":
        alpha = sp.Rational(1, 100) if alpha is None else alpha
        return [sp.Piecewise((alpha * z, z <= 0), (z, True)) for z in z_list]
    if name == "elu":
        alpha = 1 if alpha is None else alpha
        return [sp.Piecewise((alpha * (sp.exp(z) - 1), z <= 0), (z, True)) for z in z_list]
    if name == "softplus":
        return [sp.log(1 + sp.exp(z)) for z in z_list]
    if name == "softmax":
        s = sum(sp.exp(z) for z in z_list)
        return [sp.exp(z) / s for z in z_list]
    raise KeyError(name)


def sym_loss(name, a, y):
    if name == "half_sse":
        return sum((ai - yi) ** 2 for ai, yi in zip(a, y)) / 2
    if name == "sse":
        return sum((ai - yi) ** 2 for ai, yi in zip(a, y))
    if name == "mse":
        return sum((ai - yi) ** 2 for ai, yi in zip(a, y)) / len(a)
    if name == "cross_entropy":
        return -sum(yi * sp.log(ai) for ai, yi in zip(a, y))
    if name == "binary_cross_entropy":
        return -sum(yi * sp.log(ai) + (1 - yi) * sp.log(1 - ai) for ai, yi in zip(a, y))
    raise KeyError(name)


# ---- hand-written NumPy backprop (one example per column) ----------------

def np_act(name, z, alpha=None):
    """(f(z), f'(z)); alpha: leaky_relu's slope (default 0.01) or elu's α (default 1)."""
    if name == "identity":
        return z, np.ones_like(z)
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-z))
        return s, s * (1 - s)
    if name == "tanh":
        t = np.tanh(z)
        return t, 1 - t * t
    if name == "relu":
        return np.maximum(z, 0), (z > 0).astype(float)
    if name == "leaky_relu":
        alpha = 0.01 if alpha is None else alpha
        return np.where(z > 0, z, alpha * z), np.where(z > 0, 1.0, alpha)
    if name == "elu":     # f'(0) = α: the z <= 0 side, as PyTorch's autograd
        alpha = 1.0 if alpha is None else alpha
        neg = np.minimum(z, 0.0)
        return np.where(z > 0, z, alpha * np.expm1(neg)), np.where(z > 0, 1.0, alpha * np.exp(neg))
    if name == "softplus":
        return np.log1p(np.exp(z)), 1 / (1 + np.exp(-z))
    raise KeyError(name)


def np_loss(name, a, y):
    """Per-example loss and ∂E/∂a."""
    if name == "half_sse":
        return 0.5 * ((a - y) ** 2).sum(0), a - y
    if name == "sse":
        return ((a - y) ** 2).sum(0), 2 * (a - y)
    if name == "mse":
        m = a.shape[0]
        return ((a - y) ** 2).sum(0) / m, 2 * (a - y) / m
    if name == "cross_entropy":
        return -(y * np.log(a)).sum(0), -y / a
    if name == "binary_cross_entropy":
        return -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(0), -y / a + (1 - y) / (1 - a)
    raise KeyError(name)


def np_backprop(acts, loss, params, X, Y, mean=True):
    """Textbook backprop; returns (loss, grads)."""
    L = len(acts)
    a, zs, As = X, [], [X]
    for l in range(1, L + 1):
        z = params[f"W{l}"] @ a + params[f"b{l}"][:, None]
        if acts[l - 1] == "softmax":
            e = np.exp(z - z.max(0))
            a = e / e.sum(0)
        else:
            a, _ = np_act(acts[l - 1], z)
        zs.append(z)
        As.append(a)
    per, g = np_loss(loss, As[-1], Y)
    n = X.shape[1]
    if acts[-1] == "softmax":
        s = As[-1]
        # full Jacobian per example: J_ij = s_i (δ_ij - s_j); δ = Jᵀ g
        delta = np.stack([(np.diag(s[:, c]) - np.outer(s[:, c], s[:, c])).T @ g[:, c]
                          for c in range(n)], axis=1)
    else:
        delta = g * np_act(acts[-1], zs[-1])[1]
    grads = {}
    for l in range(L, 0, -1):
        grads[f"W{l}"] = delta @ As[l - 1].T / (n if mean else 1)
        grads[f"b{l}"] = delta.sum(1) / (n if mean else 1)
        if l > 1:
            delta = (params[f"W{l}"].T @ delta) * np_act(acts[l - 2], zs[l - 2])[1]
    return (per.mean() if mean else per.sum()), grads


def central_differences(f, params, h=1e-6):
    grads = {}
    for key, value in params.items():
        g = np.zeros_like(value)
        for i in np.ndindex(value.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[key][i] += h
            minus[key][i] -= h
            g[i] = (f(plus) - f(minus)) / (2 * h)
        grads[key] = g
    return grads
