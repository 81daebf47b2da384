"""Hand-written NumPy forward/backward for the held-out networks (shares no code with
symbackprop): python heldout_values.py prints every number the held-out claims use."""
import numpy as np

sig = lambda z: 1 / (1 + np.exp(-z))


def show(name, v):
    print(f"{name:28s} {np.array2string(np.asarray(v), precision=10, floatmode='maxprec')}")


def nielsen3():
    x = np.array([0.8, -0.3]); y = np.array([1.0])
    W1 = np.array([[0.4, -0.6], [0.7, 0.2]]); b1 = np.array([0.1, -0.3])
    W2 = np.array([[-0.5, 0.9]]); b2 = np.array([0.25])
    z1 = W1 @ x + b1; a1 = sig(z1); z2 = W2 @ a1 + b2; a2 = sig(z2)
    C = -(y * np.log(a2) + (1 - y) * np.log(1 - a2)).sum()
    d2 = a2 - y; d1 = (W2.T @ d2) * a1 * (1 - a1)
    for k, v in dict(z1=z1, a1=a1, z2=z2, a2=a2, C=C, delta2=d2, delta1=d1, dW2=np.outer(d2, a1),
                     dW1=np.outer(d1, x), W2new=W2 - 0.5 * np.outer(d2, a1)).items():
        show("nielsen3 " + k, v)


def logreg():
    x = np.array([0.5, -1.0, 2.0]); y = 0.0; w = np.array([0.2, 0.4, -0.3]); b = 0.05
    z = w @ x + b; a = sig(z); L = -(y * np.log(a) + (1 - y) * np.log(1 - a))
    dz = a - y
    for k, v in dict(z=z, a=a, L=L, dz=dz, dw=x * dz, db=dz, w_new=w - 0.1 * x * dz,
                     b_new=b - 0.1 * dz, da=-y / a + (1 - y) / (1 - a)).items():
        show("logreg " + k, v)


def lstack():
    X = np.array([[1.0, 0.4], [0.5, 1.2]]); Y = np.array([[1.0, 0.0]]); m = 2
    W = [None, np.array([[0.5, -0.2], [0.3, 0.8], [-0.6, 0.4]]),
         np.array([[0.7, -0.4, 0.5], [0.2, 0.6, -0.3]]), np.array([[0.9, -0.8]])]
    b = [None, np.array([[0.1], [0.2], [0.3]]), np.array([[0.05], [0.1]]), np.array([[-0.1]])]
    A = [X]; Z = [None]
    for l in (1, 2, 3):
        Z.append(W[l] @ A[-1] + b[l]); A.append(sig(Z[l]) if l == 3 else np.maximum(0, Z[l]))
    J = -np.mean(Y * np.log(A[3]) + (1 - Y) * np.log(1 - A[3]))
    dZ = {3: A[3] - Y}; dW = {}; db = {}
    for l in (3, 2, 1):
        dW[l] = dZ[l] @ A[l - 1].T / m; db[l] = dZ[l].sum(axis=1, keepdims=True) / m
        if l > 1:
            dZ[l - 1] = (W[l].T @ dZ[l]) * (Z[l - 1] > 0)
    for k, v in dict(Z1=Z[1], Z2=Z[2], A3=A[3], J=J, dZ3=dZ[3], dW3=dW[3], db3=db[3], dZ2=dZ[2],
                     dW2=dW[2], db2=db[2], dW1=dW[1], db1=db[1]).items():
        show("lstack " + k, v)


def mazur2():
    x = np.array([0.05, 0.10]); y = np.array([0.01, 0.99])
    W1 = np.array([[0.15, 0.20], [0.25, 0.30]]); W2 = np.array([[0.40, 0.45], [0.50, 0.55]])
    h = sig(W1 @ x + 0.35); o = sig(W2 @ h + 0.60)
    do = (o - y) * o * (1 - o); dh = (W2.T @ do) * h * (1 - h)
    for k, v in dict(out_h=h, out_o=o, delta_o=do, delta_h=dh, dW2=np.outer(do, h),
                     dW1=np.outer(dh, x), W2new=W2 - 0.5 * np.outer(do, h),
                     W1new=W1 - 0.5 * np.outer(dh, x), db2=do.sum(), db1=dh.sum()).items():
        show("mazur2 " + k, v)


if __name__ == "__main__":
    nielsen3(); logreg(); lstack(); mazur2()
