"""A hand-written NumPy CNN, the reference of benchmarks/bench_conv.py (issue #18).

conv 1→8 channels 3×3 (stride 1, no padding), ReLU, max-pool 2, flatten, dense 10,
softmax + cross-entropy (mean over the batch): loss and every gradient, written
directly with im2col (no symbackprop code), the way a course assignment would.

    x (m, 1, 28, 28) → z1 (m, 8, 26, 26) → a1 = relu z1 → p (m, 8, 13, 13) → z2 (m, 10)
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def loss_and_gradients(K, b, W, c, x, y):
    """K (8, 1, 3, 3), b (8,), W (10, 1352), c (10,), x (m, 1, 28, 28), y (m, 10) one-hot."""
    m = x.shape[0]
    win = sliding_window_view(x, (3, 3), axis=(2, 3))             # (m, 1, 26, 26, 3, 3)
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(m * 676, 9)
    z1 = cols @ K.reshape(8, 9).T + b                              # (m·676, 8)
    a1 = np.maximum(z1, 0.0).reshape(m, 26, 26, 8)
    blocks = a1.reshape(m, 13, 2, 13, 2, 8).transpose(0, 1, 3, 5, 2, 4).reshape(m, 13, 13, 8, 4)
    arg = blocks.argmax(axis=-1)
    p = np.take_along_axis(blocks, arg[..., None], axis=-1)[..., 0]   # (m, 13, 13, 8)
    flat = p.transpose(0, 3, 1, 2).reshape(m, 1352)                 # row-major C, H, W
    z2 = flat @ W.T + c
    z2 = z2 - z2.max(axis=1, keepdims=True)
    e = np.exp(z2)
    s = e.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(s[:, 0]) - (z2 * y).sum(axis=1)))
    d2 = (e / s - y) / m                                           # δ of the logits
    dW, dc = d2.T @ flat, d2.sum(axis=0)
    dflat = (d2 @ W).reshape(m, 8, 13, 13).transpose(0, 2, 3, 1)    # (m, 13, 13, 8)
    dblocks = np.zeros((m, 13, 13, 8, 4))
    np.put_along_axis(dblocks, arg[..., None], dflat[..., None], axis=-1)
    da1 = dblocks.reshape(m, 13, 13, 8, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(m * 676, 8)
    dz1 = da1 * (z1 > 0)
    dK = (dz1.T @ cols).reshape(8, 1, 3, 3)
    db = dz1.sum(axis=0)
    return loss, {"K": dK, "b": db, "W": dW, "c": dc}
