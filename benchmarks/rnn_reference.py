"""A hand-written vectorised NumPy BPTT: the reference of benchmarks/bench_rnn.py (issue #19).

Written from the textbook equations, independently of symbackprop: an Elman cell
h_t = tanh(W x_t + U h_{t-1} + b), a sigmoid output ŷ_t = σ(V h_t + c) at every step,
E = Σ_t ½‖ŷ_t − y_t‖² per sequence, averaged over the batch.  Arrays: X (T, n, B),
Y (T, m, B), examples in the last axis.
"""
import numpy as np


def loss_and_gradients(W, U, b, V, c, X, Y):
    T, _, B = X.shape
    H = W.shape[0]
    h = np.zeros((T + 1, H, B))
    a = W @ X + b[:, None]
    for t in range(T):
        a[t] += U @ h[t]
        h[t + 1] = np.tanh(a[t])
    o = V @ h[1:] + c[:, None]
    yhat = 1.0 / (1.0 + np.exp(-o))
    E = 0.5 * ((yhat - Y) ** 2).sum() / B
    dy = (yhat - Y) * yhat * (1.0 - yhat)            # δ^y_t
    back = V.T @ dy
    delta = np.empty((T, H, B))
    carry = np.zeros((H, B))
    for t in range(T - 1, -1, -1):
        delta[t] = (back[t] + carry) * (1.0 - h[t + 1] ** 2)
        carry = U.T @ delta[t]
    D = delta.transpose(1, 0, 2).reshape(H, T * B)
    grads = {"W1": D @ X.transpose(1, 0, 2).reshape(-1, T * B).T / B,
             "U1": D @ h[:-1].transpose(1, 0, 2).reshape(H, T * B).T / B,
             "b1": D.sum(axis=1) / B,
             "W2": dy.transpose(1, 0, 2).reshape(-1, T * B) @ h[1:].transpose(1, 0, 2).reshape(H, T * B).T / B,
             "b2": dy.sum(axis=(0, 2)) / B}
    return E, grads
