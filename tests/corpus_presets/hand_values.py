"""Hand-written NumPy forward/backward for the preset corpus networks (shares no code
with symbackprop).  Run it to print every number the claims use:
    python tests/corpus_presets/hand_values.py
Each network is written in its source's own layout (CS231n: examples as rows)."""
import numpy as np

sig = lambda z: 1 / (1 + np.exp(-z))


def show(name, v):
    print(f"{name:28s} {np.array2string(np.asarray(v), precision=10, floatmode='maxprec')}")


def nielsen():
    print("== nielsen: 2-3-2 sigmoid, C = ½‖y − a‖², η = 3; Nielsen's layers 1 (input), 2, 3")
    a1 = np.array([0.8, -0.5]); y = np.array([0.0, 1.0])
    w2 = np.array([[0.4, -0.6], [0.3, 0.2], [-0.5, 0.7]]); b2 = np.array([0.1, -0.2, 0.05])
    w3 = np.array([[0.6, -0.4, 0.2], [-0.3, 0.8, 0.5]]); b3 = np.array([-0.1, 0.2])
    z2 = w2 @ a1 + b2; a2 = sig(z2); z3 = w3 @ a2 + b3; a3 = sig(z3)
    C = 0.5 * np.sum((y - a3) ** 2)
    sp3 = a3 * (1 - a3); sp2 = a2 * (1 - a2)
    d3 = (a3 - y) * sp3; d2 = (w3.T @ d3) * sp2
    for k, v in dict(z2=z2, a2=a2, z3=z3, a3=a3, C=C, grad_a=a3 - y, sp3=sp3, sp2=sp2,
                     delta3=d3, delta2=d2, dC_dw3=np.outer(d3, a2), dC_dw2=np.outer(d2, a1),
                     w3_new=w3 - 3.0 * np.outer(d3, a2), b3_new=b3 - 3.0 * d3,
                     w2_new=w2 - 3.0 * np.outer(d2, a1),
                     wrong_delta3_nofp=a3 - y,
                     wrong_delta2_nofp=w3.T @ d3,
                     wrong_delta2_sp3=None,
                     wrong_dw3_swapped_ak=np.outer(a2, d3).T if False else None,
                     wrong_dw2_a2=np.outer(d2, a2[:2]),
                     wrong_b3_ascent=b3 + 3.0 * d3).items():
        if v is not None:
            show(k, v)


def bishop():
    print("== bishop: 2-3(tanh)-2(identity), E = ½Σ(y_k − t_k)², η = 0.5")
    x = np.array([1.0, -0.5]); t = np.array([0.5, -1.0])
    W1 = np.array([[0.2, -0.4], [0.7, 0.1], [-0.3, 0.6]]); b1 = np.array([0.1, 0.0, -0.2])
    W2 = np.array([[0.5, -0.2, 0.3], [-0.6, 0.4, 0.9]]); b2 = np.array([0.05, -0.1])
    aj = W1 @ x + b1; zj = np.tanh(aj); yk = W2 @ zj + b2
    E = 0.5 * np.sum((yk - t) ** 2)
    dk = yk - t; back = W2.T @ dk; dj = (1 - zj ** 2) * back
    for k, v in dict(a_j=aj, z_j=zj, y_k=yk, E=E, delta_k=dk, sum_k_w_kj_delta_k=back,
                     hprime=1 - zj ** 2, delta_j=dj, dE_dw2_kj=np.outer(dk, zj),
                     dE_dw1_ji=np.outer(dj, x), w2_new=W2 - 0.5 * np.outer(dk, zj),
                     w1_new=W1 - 0.5 * np.outer(dj, x),
                     wrong_delta_j_no_hprime=back,
                     wrong_delta_j_1_minus_z=(1 - zj) * back,
                     wrong_delta_k_sign=t - yk).items():
        show(k, v)


def bishop_logistic():
    print("== bishop logistic: 2-3(tanh)-1(sigmoid), E = −(t ln y + (1 − t) ln(1 − y))")
    x = np.array([0.5, 1.0]); t = np.array([1.0])
    W1 = np.array([[0.3, -0.1], [-0.4, 0.2], [0.5, 0.6]]); b1 = np.array([0.0, 0.1, -0.3])
    W2 = np.array([[0.8, -0.5, 0.6]]); b2 = np.array([-0.2])
    aj = W1 @ x + b1; zj = np.tanh(aj); ak = W2 @ zj + b2; yk = sig(ak)
    E = -np.sum(t * np.log(yk) + (1 - t) * np.log(1 - yk))
    dk = yk - t; dj = (1 - zj ** 2) * (W2.T @ dk)
    for k, v in dict(a_j=aj, z_j=zj, a_k=ak, y_k=yk, E=E, E_log10=E / np.log(10), delta_k=dk,
                     delta_j=dj, dE_dw1_ji=np.outer(dj, x), dE_dw2_kj=np.outer(dk, zj),
                     wrong_delta_k_extra_sigprime=dk * yk * (1 - yk)).items():
        show(k, v)


def goodfellow():
    print("== goodfellow: 3-2(relu)-2(sigmoid), J = ½‖ŷ − y‖², η = 0.1")
    x = np.array([0.5, -1.0, 2.0]); y = np.array([1.0, 0.0])
    W1 = np.array([[0.3, -0.2, 0.4], [-0.5, 0.6, -0.1]]); b1 = np.array([0.1, -0.2])
    W2 = np.array([[0.7, -0.3], [-0.4, 0.5]]); b2 = np.array([0.0, 0.1])
    a1 = W1 @ x + b1; h1 = np.maximum(0, a1); a2 = W2 @ h1 + b2; yhat = sig(a2)
    J = 0.5 * np.sum((yhat - y) ** 2)
    g = yhat - y                       # ∇_ŷ J
    g2 = g * yhat * (1 - yhat)         # ∇_{a^(2)} J
    gW2 = np.outer(g2, h1); gb2 = g2
    gh1 = W2.T @ g2                    # ∇_{h^(1)} J
    g1 = gh1 * (a1 > 0)                # ∇_{a^(1)} J
    gW1 = np.outer(g1, x); gb1 = g1
    for k, v in dict(a1=a1, h1=h1, a2=a2, yhat=yhat, J=J, grad_yhat=g, grad_a2=g2,
                     grad_W2=gW2, grad_b2=gb2, grad_h1=gh1, grad_a1=g1, grad_W1=gW1,
                     grad_b1=gb1, W2_new=W2 - 0.1 * gW2, b1_new=b1 - 0.1 * gb1,
                     wrong_grad_a2_nofp=g, wrong_grad_h1_noT=None,
                     wrong_grad_a1_nogate=gh1).items():
        if v is not None:
            show(k, v)


def ng():
    print("== ng: 2-3(tanh)-1(sigmoid), binary cross-entropy, m = 3 (columns), α = 1.2")
    W1 = np.array([[0.5, -0.3], [-0.2, 0.4], [0.6, 0.1]]); b1 = np.array([[0.0], [0.1], [-0.1]])
    W2 = np.array([[0.8, -0.6, 0.3]]); b2 = np.array([[0.1]])
    X = np.array([[1.0, -0.5, 0.4], [2.0, 0.3, -1.2]]); Y = np.array([[1.0, 0.0, 1.0]])
    for label, Xs, Ys in (("single (example 1)", X[:, :1], Y[:, :1]), ("batch", X, Y)):
        m = Xs.shape[1]
        Z1 = W1 @ Xs + b1; A1 = np.tanh(Z1); Z2 = W2 @ A1 + b2; A2 = sig(Z2)
        L = -(Ys * np.log(A2) + (1 - Ys) * np.log(1 - A2))
        J = np.sum(L) / m
        dZ2 = A2 - Ys; dW2 = dZ2 @ A1.T / m; db2 = np.sum(dZ2, axis=1, keepdims=True) / m
        dA1 = W2.T @ dZ2; dZ1 = dA1 * (1 - A1 ** 2); dW1 = dZ1 @ Xs.T / m
        db1 = np.sum(dZ1, axis=1, keepdims=True) / m
        print(f"-- {label}, m = {m}")
        for k, v in dict(Z1=Z1, A1=A1, Z2=Z2, A2=A2, L=L, J=J, dZ2=dZ2, dW2=dW2, db2=db2,
                         dA1=dA1, dZ1=dZ1, dW1=dW1, db1=db1, W2_new=W2 - 1.2 * dW2,
                         b1_new=b1 - 1.2 * db1, W1_new=W1 - 1.2 * dW1,
                         wrong_dW2_no_m=dZ2 @ A1.T, wrong_db2_no_m=np.sum(dZ2),
                         wrong_dZ1_sigprime=dA1 * A1 * (1 - A1),
                         wrong_dZ1_1_minus_A=dA1 * (1 - A1),
                         wrong_dA_L_sign=None).items():
            if v is not None:
                show(k, v)
        if m == 1:
            a = A2[0, 0]; y = Ys[0, 0]
            show("dA2 = -y/a + (1-y)/(1-a)", -y / a + (1 - y) / (1 - a))


def cs231n():
    print("== cs231n: rows, N = 3, D = 2, H = 3 (relu), K = 3 (softmax), data loss mean, step 0.5")
    X = np.array([[1.0, 0.5], [-0.8, 1.2], [0.3, -1.0]]); y = np.array([0, 2, 1]); N = 3
    W = np.array([[0.6, -0.4], [-0.3, 0.8], [0.5, 0.5]]).T      # D×H (the notes' layout)
    b = np.array([0.1, -0.2, 0.0])
    W2 = np.array([[0.4, -0.7, 0.2], [-0.5, 0.3, 0.6], [0.1, 0.9, -0.4]]).T   # H×K
    b2 = np.array([0.0, 0.2, -0.1])
    pre = X @ W + b; hidden = np.maximum(0, pre); scores = hidden @ W2 + b2
    exp_scores = np.exp(scores); probs = exp_scores / np.sum(exp_scores, axis=1, keepdims=True)
    correct_logprobs = -np.log(probs[range(N), y]); loss = np.sum(correct_logprobs) / N
    dscores = probs.copy(); dscores[range(N), y] -= 1; dscores /= N
    dW2 = hidden.T @ dscores; db2 = np.sum(dscores, axis=0, keepdims=True)
    dhidden = dscores @ W2.T; dhidden[hidden <= 0] = 0
    dW = X.T @ dhidden; db = np.sum(dhidden, axis=0, keepdims=True)
    for k, v in dict(pre=pre, hidden=hidden, scores=scores, probs=probs, L_i=correct_logprobs,
                     loss=loss, dscores=dscores, dW2=dW2, db2=db2, dhidden_gated=dhidden,
                     dhidden_ungated=dscores @ W2.T, dW=dW, db=db, W2_new=W2 - 0.5 * dW2,
                     b_new=b - 0.5 * db,
                     wrong_dscores_no_N=dscores * N,
                     wrong_dW2_no_N=hidden.T @ (dscores * N),
                     wrong_dW_nogate=X.T @ (dscores @ W2.T),
                     wrong_loss_no_N=np.sum(correct_logprobs)).items():
        show(k, v)


if __name__ == "__main__":
    np.set_printoptions(linewidth=140)
    nielsen(); bishop(); bishop_logistic(); goodfellow(); ng(); cs231n()
