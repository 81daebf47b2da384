"""Hand-written NumPy forward/backward for the corpus networks (shares no code with
symbackprop).  Run it to print every number the corpus claims: python hand_values.py"""
import numpy as np

sig = lambda z: 1 / (1 + np.exp(-z))
softplus = lambda z: np.log1p(np.exp(z))


def show(name, v):
    print(f"{name:32s} {np.array2string(np.asarray(v), precision=12, floatmode='maxprec')}")


def nielsen():
    print("== nielsen: 2-2-2 sigmoid, C = ½‖y − a‖², η = 3")
    x = np.array([0.6, -0.4]); y = np.array([1.0, 0.0])
    W1 = np.array([[0.5, -0.3], [0.2, 0.8]]); b1 = np.array([0.1, -0.2])
    W2 = np.array([[-0.7, 0.4], [0.9, 0.3]]); b2 = np.array([0.05, -0.1])
    z1 = W1 @ x + b1; a1 = sig(z1); z2 = W2 @ a1 + b2; a2 = sig(z2)
    C = 0.5 * np.sum((y - a2) ** 2)
    d2 = (a2 - y) * a2 * (1 - a2); d1 = (W2.T @ d2) * a1 * (1 - a1)
    for k, v in dict(z1=z1, a1=a1, z2=z2, a2=a2, C=C, delta2=d2, delta1=d1,
                     dW2=np.outer(d2, a1), dW1=np.outer(d1, x), gradC_a=a2 - y,
                     W2new=W2 - 3.0 * np.outer(d2, a1), b2new=b2 - 3.0 * d2,
                     wrong_delta1_noT=(W2 @ d2) * a1 * (1 - a1),
                     wrong_delta2_nofp=a2 - y, wrong_dW2_swapped=np.outer(a1, d2),
                     wrong_C_sign=-C).items():
        show(k, v)


def dlai(X, Y, label):
    print(f"== deeplearning.ai {label}: 3-3(tanh)-1(sigmoid), binary cross-entropy")
    W1 = np.array([[0.3, -0.2, 0.5], [-0.4, 0.1, 0.2], [0.6, 0.3, -0.1]])
    b1 = np.array([[0.1], [-0.1], [0.0]])
    W2 = np.array([[0.7, -0.5, 0.4]]); b2 = np.array([[0.2]])
    m = X.shape[1]
    Z1 = W1 @ X + b1; A1 = np.tanh(Z1); Z2 = W2 @ A1 + b2; A2 = sig(Z2)
    J = -np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2)) / m
    dZ2 = A2 - Y; dW2 = dZ2 @ A1.T / m; db2 = np.sum(dZ2, axis=1, keepdims=True) / m
    dZ1 = (W2.T @ dZ2) * (1 - A1 ** 2); dW1 = dZ1 @ X.T / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m
    for k, v in dict(Z1=Z1, A1=A1, Z2=Z2, A2=A2, J=J, dZ2=dZ2, dW2=dW2, db2=db2, dZ1=dZ1,
                     dW1=dW1, db1=db1, W2new=W2 - 1.2 * dW2, b2new=b2 - 1.2 * db2,
                     wrong_dW2_no_m=dZ2 @ A1.T, wrong_J_no_m=J * m,
                     wrong_dZ1_sigmoidprime=(W2.T @ dZ2) * A1 * (1 - A1)).items():
        show(k, v)


def cs231n_softmax():
    print("== cs231n softmax classifier: 3 inputs, 3 classes, correct class 3")
    x = np.array([1.2, -0.8, 0.5]); y = 2
    W = np.array([[0.2, -0.5, 0.1], [1.5, 1.3, 2.1], [0.0, 0.25, 0.2]])
    b = np.array([1.1, 3.2, -1.2])
    f = W @ x + b; p = np.exp(f - f.max()); p /= p.sum()
    L = -np.log(p[y]); df = p.copy(); df[y] -= 1
    for k, v in dict(f=f, p=p, L=L, L_log10=-np.log10(p[y]), dscores=df, dW=np.outer(df, x),
                     db=df, hinge=np.sum(np.maximum(0, f - f[y] + 1)) - 1).items():
        show(k, v)


def cs231n_twolayer():
    print("== cs231n two-layer net: 2-3(relu)-3(softmax), cross-entropy, class 2")
    x = np.array([0.5, -1.0]); y = 1
    W1 = np.array([[0.4, 0.2], [-0.3, 0.6], [0.8, -0.1]]); b1 = np.array([0.1, 0.0, -0.2])
    W2 = np.array([[0.5, -0.2, 0.3], [-0.6, 0.4, 0.1], [0.2, 0.7, -0.5]])
    b2 = np.array([0.0, 0.1, -0.1])
    z1 = W1 @ x + b1; h = np.maximum(0, z1); s = W2 @ h + b2
    p = np.exp(s - s.max()); p /= p.sum(); L = -np.log(p[y])
    ds = p.copy(); ds[y] -= 1; dh = W2.T @ ds; dz1 = dh * (z1 > 0)
    for k, v in dict(z1=z1, hidden=h, scores=s, probs=p, L=L, dscores=ds, dW2=np.outer(ds, h),
                     db2=ds, dhidden=dh, dz1=dz1, dW1=np.outer(dz1, x), db1=dz1,
                     W2new=W2 - 0.1 * np.outer(ds, h)).items():
        show(k, v)


def goodfellow():
    print("== goodfellow: 2-2(softplus)-2(sigmoid), J = ½‖ŷ − y‖²")
    x = np.array([0.4, -0.6]); y = np.array([0.0, 1.0])
    W1 = np.array([[0.3, -0.8], [0.5, 0.2]]); b1 = np.array([-0.1, 0.2])
    W2 = np.array([[0.9, -0.4], [-0.3, 0.6]]); b2 = np.array([0.1, -0.2])
    a1 = W1 @ x + b1; h1 = softplus(a1); a2 = W2 @ h1 + b2; h2 = sig(a2)
    J = 0.5 * np.sum((h2 - y) ** 2)
    g2 = (h2 - y) * h2 * (1 - h2); gh1 = W2.T @ g2; g1 = gh1 * sig(a1)
    for k, v in dict(a1=a1, h1=h1, a2=a2, h2=h2, J=J, grad_a2=g2, grad_h1=gh1, grad_a1=g1,
                     grad_W2=np.outer(g2, h1), grad_W1=np.outer(g1, x), grad_b2=g2,
                     grad_b1=g1, W1new=W1 - 0.1 * np.outer(g1, x)).items():
        show(k, v)


def mazur():
    print("== Mazur: 2-2-2 sigmoid, w1…w8 target-major, tied b1, b2, η = 0.5")
    i = np.array([0.05, 0.10]); t = np.array([0.01, 0.99])
    w = dict(w1=.15, w2=.20, w3=.25, w4=.30, w5=.40, w6=.45, w7=.50, w8=.55); b1, b2 = .35, .60
    net_h = np.array([w["w1"] * i[0] + w["w2"] * i[1] + b1, w["w3"] * i[0] + w["w4"] * i[1] + b1])
    out_h = sig(net_h)
    net_o = np.array([w["w5"] * out_h[0] + w["w6"] * out_h[1] + b2,
                      w["w7"] * out_h[0] + w["w8"] * out_h[1] + b2])
    out_o = sig(net_o); E = 0.5 * (t - out_o) ** 2
    dE_dout = out_o - t; dout_dnet = out_o * (1 - out_o); d_o = dE_dout * dout_dnet
    g = dict(w5=d_o[0] * out_h[0], w6=d_o[0] * out_h[1], w7=d_o[1] * out_h[0], w8=d_o[1] * out_h[1])
    dE_douth = np.array([d_o[0] * w["w5"] + d_o[1] * w["w7"], d_o[0] * w["w6"] + d_o[1] * w["w8"]])
    d_h = dE_douth * out_h * (1 - out_h)
    g.update(w1=d_h[0] * i[0], w2=d_h[0] * i[1], w3=d_h[1] * i[0], w4=d_h[1] * i[1])
    vals = dict(net_h=net_h, out_h=out_h, net_o=net_o, out_o=out_o, E_o=E, E_total=E.sum(),
                dE_dout_o=dE_dout, dout_dnet_o=dout_dnet, delta_o=d_o,
                dEo1_douth1=d_o[0] * w["w5"], dEo2_douth1=d_o[1] * w["w7"],
                dE_dout_h=dE_douth, dout_dnet_h=out_h * (1 - out_h), delta_h=d_h,
                dE_db1=d_h.sum(), dE_db2=d_o.sum(),
                w1_only_o1=d_o[0] * w["w5"] * out_h[0] * (1 - out_h[0]) * i[0],
                w5_ascent=w["w5"] + 0.5 * g["w5"], w5_no_eta=w["w5"] - g["w5"])
    for k, v in vals.items():
        show(k, v)
    for k in sorted(g, key=lambda s: int(s[1:])):
        show(f"dE/d{k}", g[k]); show(f"{k}+", w[k] - 0.5 * g[k])


def calculus():
    print("== calculus: spot values at x = 0.7")
    x = 0.7
    show("sigma'(0.7)", sig(x) * (1 - sig(x))); show("tanh'(0.7)", 1 - np.tanh(x) ** 2)
    show("softplus'(0.7)", sig(x))


if __name__ == "__main__":
    nielsen()
    dlai(np.array([[1.0], [-2.0], [0.5]]), np.array([[1.0]]), "single example")
    dlai(np.array([[1.0, 0.2, -1.5], [-2.0, 0.4, 0.3], [0.5, 1.0, -0.7]]),
         np.array([[1.0, 0.0, 1.0]]), "batch of m = 3")
    cs231n_softmax(); cs231n_twolayer(); goodfellow(); mazur(); calculus()
