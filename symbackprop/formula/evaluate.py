"""AST → SymPy: the evaluator behind ``formula.parse_claim``.

Walks a ``grammar.Node`` tree.  Names resolve through the ``Scope``
(names.py): first the notation's own names, then layer-level names
(W2, z^1, \\delta^L), then layered-index names (\\delta^{2}_{1}), with generic
index letters replaced by their bound values.  A product is read left to
right as a chain of operands, which is where ``dE/dw17`` becomes a
``Partial``, ``d/dz`` an operator on what follows, and ``\\sigma z`` an
application.  A matrix literal (``\\begin{bmatrix} … \\end{bmatrix}``) is an
ImmutableMatrix of its entries.  Every step (every matrix cell, every
multiply-add of a matrix product) draws on a budget, so no input can run long.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

import sympy as sp

from .classes import class_indicator
from .tree import LEAVES, unwrap, index_values, unfold
from .grammar import ELLIPSIS, ENVIRONMENT, MAX_CELLS, Node, matrix_cells
from .names import INDEX_LETTERS, LOSS, Scope, canon
from .ops import (FUNCTIONS, MAX_STEPS, FreeIndex, OutOfRange, total, MUL, DOp, FormulaError, Func, is_matrix, add,
                  apply_function, function_name, multiply, negate, norm, number, power, shrink)
from .resolve import apply_operator, derivative_pair, index_sum, is_d, resolve, updated

CODE = re.compile(r"\b(?:np|numpy)\.|@|\.T(?![A-Za-z0-9_])|\.dot\s*\(")
# g, f, φ: the activation function of a layer (the layer comes from the argument z^l)
ACTIVATION_LETTERS = frozenset({"g", "f", "phi", "varphi"})
TRANSPOSE = {"T", "top", "intercal", "mathsfT", "\u1d40", "\u22a4", "\u22ba", "mathrmT",
             "intercal"}
VULGAR = {"\u00bc": sp.Rational(1, 4), "\u00bd": sp.Rational(1, 2), "\u00be": sp.Rational(3, 4),
          "\u2150": sp.Rational(1, 7), "\u2151": sp.Rational(1, 9), "\u2152": sp.Rational(1, 10),
          "\u2153": sp.Rational(1, 3), "\u2154": sp.Rational(2, 3), "\u2155": sp.Rational(1, 5),
          "\u2156": sp.Rational(2, 5), "\u2157": sp.Rational(3, 5), "\u2158": sp.Rational(4, 5),
          "\u2159": sp.Rational(1, 6), "\u215a": sp.Rational(5, 6), "\u215b": sp.Rational(1, 8),
          "\u215c": sp.Rational(3, 8), "\u215d": sp.Rational(5, 8), "\u215e": sp.Rational(7, 8)}


class Product(list):
    """Scalar factors of a product, multiplied once by ``settle``."""


def settle(acc):
    if isinstance(acc, Product):
        return sp.Mul(*acc)
    return acc


class Budget:
    """The steps one claim may take (``MAX_STEPS``), shared by the evaluators of
    its index sums."""

    def __init__(self):
        self.steps = 0


def unapplied(v):
    """A letter that is a function with an argument and a value without one (CS231n's
    f: f_k the k-th score) used without one: its value."""
    return v.value if isinstance(v, Func) and v.value is not None else v


class Evaluator:
    """Turns the AST of one claim into SymPy values in ``scope``, with the
    generic indices in ``indices`` bound (never changed: ``bind`` gives an
    evaluator with one more or one fewer)."""

    def __init__(self, scope: Scope, text: str, indices: Mapping[str, int],
                 budget: Budget | None = None):
        self.scope, self.text = scope, text
        self.bound: Mapping[str, int] = MappingProxyType(dict(indices))
        self.budget = budget if budget is not None else Budget()
        # a NumPy-style claim (np.…, @, .T, .dot): its * is NumPy's elementwise product
        self.numpy = CODE.search(text) is not None
        # Bishop's h: h(a)^2 is (h(a))², not h·a² (the notation's function letter)
        self.function_letters = frozenset(scope.function_names) | (
            scope.function_letters if scope.letter_layers else frozenset())

    def bind(self, letter: str, value: int | None) -> Evaluator:
        """This claim's evaluator with ``letter`` bound to ``value`` (None: unbound),
        drawing on the same step budget."""
        bound = {k: v for k, v in self.bound.items() if k != letter}
        if value is not None:
            bound[letter] = value
        return Evaluator(self.scope, self.text, bound, self.budget)

    # ---- entry points ----------------------------------------------------
    def side(self, node: Node):
        v = unapplied(self.value(node))
        if isinstance(v, Func):
            raise FormulaError(f"{v.name} needs an argument", node.start, f"{v.name}(…)")
        if isinstance(v, DOp):
            raise FormulaError("a derivative operator needs something to differentiate",
                               node.start, "an expression after d/d…")
        return shrink(v)

    def value(self, node: Node):
        self.tick(1, node)
        if node.kind in ("call", "sup", "prime", "transpose", "supdigits"):
            parts = unfold(node, self.function_letters)
            if len(parts) > 1:
                return self.chain([(None, parts[0])] + [("juxt", p) for p in parts[1:]])
        handler = getattr(self, "k_" + node.kind, None)
        if handler is None:
            raise FormulaError(f"unexpected {node.text or node.kind}", node.start, "a formula")
        return handler(node)

    def expr(self, node: Node):
        """A value that is a number, expression or matrix (not a bare function)."""
        v = unapplied(self.value(node))
        if isinstance(v, (Func, DOp)):
            raise FormulaError("a function or derivative operator without an argument",
                               node.start, "an argument")
        return v

    def tick(self, n: int, node: Node) -> None:
        self.budget.steps += n
        if self.budget.steps > MAX_STEPS:
            raise FormulaError("this formula is too large to build", node.start,
                               "a smaller formula")

    # ---- leaves ------------------------------------------------------------
    def k_NUMBER(self, node):
        return number(node.text, node.start)

    def k_NAME(self, node):
        v = self.resolve(node, None, None)
        if isinstance(v, Func) and v.name == "sigma" and canon(node.text) == "Sigma":
            return replace(v, diagonal=True)       # Nielsen's Σ'(z): diag(σ'(z_j))
        return v

    k_COMMAND = k_WRAPPED = k_NAME

    def k_PRIME(self, node):
        raise FormulaError("a prime ' belongs after a function name", node.start, "σ'(z)")

    def k_dpart(self, node):
        raise FormulaError("∂ outside a derivative", node.start, r"\frac{\partial E}{\partial w}")

    k_dbare = k_dpart

    # ---- groups --------------------------------------------------------------
    def k_paren(self, node):
        return self.expr(node.args[0])

    def k_group(self, node):
        inner = node.args[0]
        if inner.kind == "args" and len(inner.args) != 1:
            raise FormulaError("a list with commas here", inner.start, "one expression")
        return self.expr(unwrap(inner))

    k_args = k_group

    def k_norm(self, node):
        return norm(self.expr(node.args[1]))

    def k_unary(self, node):
        sign, operand = node.args
        v = self.expr(operand)
        return negate(v) if sign.text in "-\u2212" else v

    # ---- sums and products --------------------------------------------------
    def k_binop(self, node):
        if node.kind == "binop" and node.args[1].kind == "ADDOP":
            return self.additive(node)
        items = self.flatten(node)
        first = items[0][1]
        if first.kind == "unary":        # -\log p_k, -\sigma z: the sign is the product's
            sign, operand = first.args
            v = self.chain([(None, operand)] + items[1:])
            return negate(v) if sign.text in "-\u2212" else v
        return self.chain(items)

    k_juxt = k_binop

    def additive(self, node):
        terms = []
        while node.kind == "binop" and node.args[1].kind == "ADDOP":
            terms.append((-1 if node.args[1].text in "-\u2212" else 1, node.args[2]))
            node = node.args[0]
        values = [(1, self.expr(node), node)] + [(sign, self.expr(t), t) for sign, t in terms[::-1]]
        if not any(is_matrix(v) for _, v, _ in values):
            return sp.Add(*[v if sign > 0 else -v for sign, v, _ in values])   # linear
        acc = values[0][1]
        for sign, v, term in values[1:]:
            acc = add(acc, sign, v, term.start)
        return acc

    def flatten(self, node) -> list[tuple[str | None, Node]]:
        """A left-nested product as [(None, first), (op, next), …], unfolded."""
        rest = []
        while (node.kind == "binop" and node.args[1].kind == "MULOP") or node.kind == "juxt":
            op = node.args[1].text if node.kind == "binop" else "juxt"
            rest.append((op, node.args[-1]))
            node = node.args[0]
        items = [(None, node)] + rest[::-1]
        out = []
        for op, n in items:
            parts = unfold(n, self.function_letters)
            out += [(op, parts[0])] + [("juxt", p) for p in parts[1:]]
        return out

    def chain(self, items):
        """Evaluate a product left to right (see module docstring).  A function
        name applies to the next operand (\\sigma z), a derivative operator to
        the run of juxtaposed operands after it."""
        if self.scope.example is not None:
            items = self.without_example_args(items)
        acc, first_op, funcs, ops = None, None, [], []
        i = 0
        while i < len(items):
            op, node = items[i]
            if ops and op != "juxt" and acc is not None:
                # d/dx applies to the juxtaposed run after it: ∇_a C ⊙ σ'(z) is (∇_a C) ⊙ σ'(z)
                acc, ops = Product([self.close(acc, ops, items[:i])]), []
            v, used = self.derivative_at(items, i)
            i += used
            if v is None and i < len(items) and items[i][0] == "juxt":
                self.refuse_unknown_function(node, items[i][1])
                v = self.layer_applied(node, items[i][1])
                i += v is not None
            v = self.value(node) if v is None else v
            if funcs and op != "juxt":
                raise FormulaError(f"{funcs[-1].name} needs an argument", node.start, "(…)")
            if isinstance(v, Func) and i < len(items):
                funcs.append(v)
                first_op = op if len(funcs) == 1 else first_op
                continue
            while funcs:
                v = apply_function(funcs.pop(), [self.as_arg(v, node)], self.scope.alpha,
                                   node.start)
                op = first_op
            if isinstance(v, DOp):
                ops.append((settle(acc), op, v))
                acc = None
                continue
            acc = self.times(acc, op, v, node)
        return self.close(settle(acc), ops, items)

    def without_example_args(self, items):
        """Inside \\sum_x over the examples: y(x), a^L(x) are the example's y and a^L (the
        argument (x) names the example; a function's argument, σ(x), stays)."""
        out = []
        for op, node in items:
            if out and op == "juxt" and node.kind == "paren" and \
                    canon(self.src(node)).strip("()") == self.scope.example and \
                    not isinstance(self.value(out[-1][1]), (Func, DOp)):
                continue
            out.append((op, node))
        return out

    def refuse_unknown_function(self, callee: Node, arg: Node) -> None:
        """Free-standing, ``ψ(x)`` with a letter ψ that is nowhere else in the claim but
        before a parenthesis reads as a function nobody defined, or as the product ψ·x:
        never silently the product."""
        if not self.scope.free or callee.kind not in ("NAME", "COMMAND") or arg.kind != "paren":
            return
        name = callee.text
        if canon(name) in ("e", "d") or self.resolve(callee, None, None, quiet=True) is None \
                or isinstance(self.resolve(callee, None, None, quiet=True), (Func, DOp)):
            return
        spelled = re.escape(name) + (r"(?![A-Za-z])" if name.startswith("\\") else "")
        uses = list(re.finditer(r"(?<![A-Za-z\\])" + spelled + r"(?![A-Za-z0-9])", self.text))
        if uses and all(re.match(r"\s*(?:\\left\s*)?\(", self.text[m.end():]) for m in uses):
            raise FormulaError(
                f"{name}(…) applies {name} like a function, but {name} is not one of the "
                f"functions read here (σ, exp, ln, log, tanh, sech, relu, leaky_relu, elu, "
                f"softplus, ζ, softmax, max, sqrt); it could also be the product {name}·(…). "
                f"Write {name}\\cdot(…) for the product, or the function written out",
                callee.start, f"a known function, or {name}·(…)")

    def layer_applied(self, callee: Node, arg: Node):
        """g(z^l), g'(z^l_j), f'(z^l), φ(z): an activation letter without a layer script
        applied to a layer's z is that layer's activation (None: not this form, or the
        argument names no single layer; the letter is then read by its scripts)."""
        primes, leaf = 0, callee
        while leaf.kind == "prime" or (leaf.kind == "sup" and (
                unwrap(leaf.args[2]).kind == "PRIME" or canon(unwrap(leaf.args[2]).text) == "prime")):
            primes, leaf = primes + 1, leaf.args[0]
        if self.scope.free or leaf.kind not in LEAVES or canon(leaf.text) not in ACTIVATION_LETTERS:
            return None
        try:
            named = self.resolve(leaf, None, None, quiet=True)
        except FormulaError:            # which layer's activation: the argument says
            named = None
        if named is not None and not isinstance(named, Func):
            return None                 # a name of the network (a neuron called f)
        value = self.expr(arg)
        layer = self.layer_of(value)
        if layer is None:
            return None
        act = self.scope.model.network.layers[layer - 1 - self.scope.layer_shift]   # Nielsen: shown l+1
        name = function_name(act.activation.name)
        if name is None:
            return None
        f = Func(name, primes)
        return apply_function(f, [value], act.alpha, arg.start)

    def layer_of(self, value) -> int | None:
        """The layer l whose pre-activations z^l hold every entry of ``value``."""
        entries = list(value) if is_matrix(value) else [value]
        for (kind, l), mat in self.scope.layers.items():
            if kind == "z" and all(isinstance(e, sp.Symbol) and e in set(mat) for e in entries):
                return l
        return None

    def times(self, acc, op, v, node):
        """acc·v, with scalar factors gathered into one product at the end
        (multiplying one by one is quadratic in their number)."""
        how = MUL.get(op, "mul")
        scalar = not isinstance(v, (Func, DOp)) and not is_matrix(v)
        if acc is None:
            return Product([v]) if scalar else v
        if isinstance(acc, Product) and scalar:
            if how == "div":
                if v == 0:
                    raise FormulaError("division by zero", node.start, "a non-zero divisor")
                v = sp.Pow(v, -1)
            acc.append(v)
            return acc
        out = self.combine(settle(acc), op, v, node)
        return Product([out]) if not is_matrix(out) else out

    def derivative_at(self, items, i):
        """(Partial or operator, items used) when items[i:] start with dE/dw,
        d E / d w or \\delta C / \\delta w; else (None, 1)."""
        kinds = [op for op, _ in items[i + 1:i + 4]]
        if len(kinds) == 3 and kinds[0] == "juxt" == kinds[2] and MUL.get(kinds[1]) == "div" \
                and is_d(items[i][1], juxt=True) and is_d(items[i + 2][1], juxt=True):
            num, den = (Node("juxt", (items[k][1], items[k + 1][1]), items[k][1].start,
                             items[k + 1][1].end) for k in (i, i + 2))
            v = derivative_pair(self, num, den)
            if v is not None:
                return v, 4
        if i + 1 < len(items) and MUL.get(items[i + 1][0]) == "div":
            v = derivative_pair(self, items[i][1], items[i + 1][1])
            if v is not None:
                return v, 2
        return None, 1

    def close(self, acc, ops, items):
        acc = settle(acc)
        for prev, op, dop in reversed(ops):
            if acc is None:
                raise FormulaError("a derivative operator needs something to differentiate",
                                   items[-1][1].end, "an expression after d/d…")
            acc = self.charge(apply_operator(self, dop, acc, items[0][1].start), items[0][1])
            acc = acc if prev is None else self.combine(prev, op, acc, items[0][1])
        return acc

    def as_arg(self, v, node):
        v = unapplied(v)
        if isinstance(v, (Func, DOp)):
            raise FormulaError("a function cannot be the argument of a function", node.start,
                               "an expression")
        return v

    def combine(self, acc, op, v, node):
        acc, v = unapplied(acc), unapplied(v)
        if isinstance(acc, (Func, DOp)) or isinstance(v, (Func, DOp)):
            raise FormulaError("a function or operator without an argument", node.start,
                               "an argument")
        both = is_matrix(acc) and is_matrix(v)
        if both:
            self.tick(acc.rows * acc.cols * max(v.cols, 1), node)
        how = MUL.get(op, "mul")
        out = multiply(acc, "broadcast" if how == "star" and self.numpy else how, v, node.start)
        return self.charge(out, node) if both else out

    def charge(self, v, node):
        """Count v's expression-tree nodes against the budget: repeated matrix
        products and derivatives can grow trees exponentially."""
        for entry in (v if is_matrix(v) else [v]):
            for _ in sp.preorder_traversal(entry):
                self.tick(1, node)
        return v

    def k_sum(self, node):
        return index_sum(self, node)

    def k_frac(self, node):
        _, num, den = node.args
        d = derivative_pair(self, unwrap(num), unwrap(den))
        if d is not None:
            return d
        return multiply(self.expr(num), "div", self.expr(den), node.start)

    def k_fracglyph(self, node):
        """½ ⅓ ¼ ¾ …: the vulgar-fraction characters."""
        return VULGAR[node.args[0].text]

    def k_fracdigits(self, node):
        a, b = (c for c in node.args[0].text if c.isdigit())     # \frac12 = 1/2
        return multiply(sp.Integer(a), "div", sp.Integer(b), node.start)

    def k_supdigits(self, node):
        base, digits = node.args                        # x² = x^2
        table = str.maketrans("\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079",
                              "-0123456789")
        return power(self.as_arg(self.expr(base), base), sp.Integer(digits.text.translate(table)),
                     digits.start)

    def k_iverson(self, node):
        """(z > 0), [z > 0], [y = k]: 1 where the comparison holds, else 0
        (entry by entry when a side is a vector: the mask (Z > 0))."""
        return self.indicator_of(node)

    def k_indicator(self, node):
        """\\mathbb{1}[z > 0], \\mathbb{1}(y = k), \\mathbf{1}_{i=j}, 1\\{z > 0\\}."""
        return self.indicator_of(next(a for a in node.args if a.kind == "relation"))

    k_relation = k_iverson         # np.where(Z > 0, …), np.int64(z > 0): a comparison as a mask

    def indicator_of(self, node):
        lhs, op, rhs = [a for a in node.args if a.kind != "CONDWORD"]
        found = class_indicator(self, lhs, canon(op.text), rhs, node)
        if found is not None:          # 1(y_i = k): a one-hot target's entry y_k
            return found
        a, b = self.compared(lhs), self.compared(rhs)
        if not (is_matrix(a) or is_matrix(b)):
            return sp.Piecewise((1, self.compare(a, op, b, node)), (0, True))
        rows, cols = next(v.shape for v in (a, b) if is_matrix(v))
        if any(is_matrix(v) and v.shape != (rows, cols) for v in (a, b)):
            raise FormulaError("a comparison of matrices of different shapes", node.start,
                               "matching shapes")
        pick = (lambda v, i, j: v[i, j] if is_matrix(v) else v)
        return shrink(sp.ImmutableMatrix(rows, cols, lambda i, j: sp.Piecewise(
            (1, self.compare(pick(a, i, j), op, pick(b, i, j), node)), (0, True))))

    def compared(self, node: Node):
        """A side of a comparison: a generic index letter (1_{i=j}) is its value."""
        plain = unwrap(node)
        if not self.scope.free and plain.kind == "NAME" and len(plain.text) == 1 \
                and plain.text in INDEX_LETTERS:
            return sp.Integer(self.indices(plain)[0])
        return self.expr(node)

    def compare(self, a, op, b, node):
        """a op b for scalars; an equality only between numbers and indices (1(y = k)
        with a class label y is a convention this spec does not have)."""
        kind = canon(op.text)
        if kind in ("=", "==", "!=", "\u2260", "ne", "neq"):
            if not (a.is_Number and b.is_Number):
                raise FormulaError(f"{self.src(node)!r} compares {self.src(node.args[0])!r} "
                                   "with = : an indicator of an equality is read only between "
                                   "indices (1_{i=j}); a class label y = k is not this spec's "
                                   "convention (y is a one-hot target: write y_k)", node.start,
                                   "an indicator of indices, or y_k")
            return sp.true if (a == b) == (kind in ("=", "==")) else sp.false
        rel = (sp.Gt if kind in (">", "gt") else sp.Lt if kind in ("<", "lt") else
               sp.Ge if kind in ("\u2265", ">=", "ge", "geq", "geqslant") else sp.Le)
        try:
            return rel(a, b)
        except TypeError:          # a complex or undefined side (sqrt(-1), 1/0)
            raise FormulaError("these sides cannot be compared", node.start,
                               "real expressions") from None

    def k_cases(self, node):
        """\\begin{cases} v_1 & \\text{if } c_1 \\\\ v_2 & \\text{otherwise} \\end{cases}."""
        pieces = []
        for row in (r for r in node.args[1].args if r.kind == "caserow"):
            value, _, cond = row.args
            v = self.expr(value)
            if is_matrix(v):
                raise FormulaError("a case's value must be a scalar", value.start, "a scalar")
            pieces.append((v, True if cond.kind == "otherwise" else self.relation(cond)))
        return sp.Piecewise(*pieces)

    def k_matrix(self, node):
        """\\begin{bmatrix} a & b \\\\ c & d \\end{bmatrix} (pmatrix, Bmatrix, matrix,
        smallmatrix, array): an ImmutableMatrix of the entries; 1×1 is a scalar."""
        begin, rows, end = node.args
        kind, closing = (ENVIRONMENT.search(t.text)[2] for t in (begin, end))
        if kind != closing:
            raise FormulaError(f"\\begin{{{kind}}} is closed by \\end{{{closing}}}", end.start,
                               f"\\end{{{kind}}}")
        if kind.rstrip("*")[:1] in "vV":
            raise FormulaError(f"a determinant or norm ({kind}) cannot be checked; write its "
                               "value out", begin.start, "the value written out")
        elided = ELLIPSIS.search(self.text, node.start, node.end)
        if elided:
            raise FormulaError(f"an elided matrix ({elided[0]}) cannot be checked: write every "
                               "entry out", elided.start(), "the entries written out")
        grid = matrix_cells(rows)
        if len(grid) * len(grid[0]) > MAX_CELLS:
            raise FormulaError(f"a matrix with more than {MAX_CELLS} entries", node.start,
                               f"at most {MAX_CELLS} entries")
        self.tick(len(grid) * len(grid[0]), node)
        entries = [self.entry(cell) for row in grid for cell in row]
        return shrink(sp.ImmutableMatrix(len(grid), len(grid[0]), entries))

    def entry(self, cell: Node):
        """One matrix entry: a scalar (a 1×1 matrix counts; blocks are not read)."""
        v = shrink(self.expr(cell))
        if is_matrix(v):
            raise FormulaError(f"a matrix entry is a {v.rows}×{v.cols} matrix; entries must be "
                               "scalars (block matrices are not read)", cell.start, "a scalar")
        return v

    def k_ELLIPSIS(self, node):
        raise FormulaError(f"an elision ({node.text}) cannot be checked: write every term out",
                           node.start, "the terms written out")

    def relation(self, node):
        lhs, op, rhs = [a for a in node.args if a.kind != "CONDWORD"]
        a, b = self.expr(lhs), self.expr(rhs)
        if is_matrix(a) or is_matrix(b):
            raise FormulaError("a comparison of matrices", node.start, "scalars")
        return self.compare(a, op, b, node)

    def k_bare(self, node):
        return self.value(node.args[0])

    # ---- postfix ---------------------------------------------------------
    def k_call(self, node):
        callee, args = node.args
        f = self.value(callee)
        if self.scope.example is not None and len(args.args) == 1 and \
                canon(self.src(args.args[0])) == self.scope.example and not isinstance(f, Func):
            return f               # y(x), a^L(x) inside \sum_x: the example's y, a^L
        values, keywords = self.arguments(args)
        if keywords and not (isinstance(f, Func) and f.name == "sum"):
            raise FormulaError(f"keyword arguments ({', '.join(keywords)}) are read only for "
                               "np.sum (axis, keepdims)", args.start, "plain arguments")
        if isinstance(f, Func):
            if f.name == "sum" and keywords:
                return self.axis_sum(values, keywords, node)
            return apply_function(f, values, self.scope.alpha, node.start)
        if f == LOSS and len(values) > 1:
            return LOSS            # E(y, ŷ): the loss written as a function
        if len(values) == 1 and not isinstance(f, DOp):
            return self.combine(f, "juxt", values[0], node)
        raise FormulaError(f"{self.src(callee)!r} is not a function", callee.start,
                           "one of: " + ", ".join(sorted(FUNCTIONS)))

    def arguments(self, args: Node) -> tuple[list, dict]:
        """The values of a call's arguments, and its keyword arguments (axis=1,
        keepdims=True) by name."""
        values, keywords = [], {}
        for a in args.args:
            if a.kind != "kwarg":
                values.append(self.expr(a))
                continue
            name, _, value = a.args
            plain = unwrap(value)
            if plain.kind == "NAME" and plain.text in ("True", "False"):
                keywords[name.text] = plain.text == "True"
            else:
                keywords[name.text] = self.expr(value)
        return values, keywords

    def axis_sum(self, values: list, keywords: dict, node: Node):
        """np.sum(dZ, axis=1, keepdims=True): the sum of each row (axis 1, a column)
        or of each column (axis 0, a row); without axis, of every entry."""
        unknown = set(keywords) - {"axis", "keepdims"}
        if unknown or len(values) != 1:
            raise FormulaError(f"np.sum takes one array, axis and keepdims (not "
                               f"{', '.join(sorted(unknown)) or 'several arrays'})", node.start,
                               "np.sum(dZ, axis=1, keepdims=True)")
        v, axis = values[0], keywords.get("axis")
        if axis is None:
            return total(v)
        if axis not in (0, 1, -1):
            raise FormulaError(f"axis={axis}: a matrix has axes 0 and 1", node.start, "axis=0 or 1")
        if not is_matrix(v):
            return v
        if axis == 0:
            row = sp.ImmutableMatrix(1, v.cols, lambda i, j: sp.Add(*v[:, j]))
            return shrink(row if keywords.get("keepdims") else row.T)
        return shrink(sp.ImmutableMatrix(v.rows, 1, lambda i, j: sp.Add(*v[i, :])))

    def k_method(self, node):
        """X.dot(Y), X.sum(axis=1, keepdims=True), X.astype(float), X.transpose()."""
        target, method = node.args[0], node.args[1].text.lstrip(".")
        args = node.args[2] if len(node.args) > 2 else Node("args", (), node.end, node.end)
        x = self.expr(target)
        if method == "astype":
            kinds = [unwrap(a).text for a in args.args]
            if len(kinds) != 1 or kinds[0] not in ("float", "int", "float64", "int64", "float32",
                                                   "int32", "bool"):
                raise FormulaError("astype takes a number type", args.start, "astype(float)")
            return x
        values, keywords = self.arguments(args)
        if method == "sum":
            return self.axis_sum([x] + values, keywords, node)
        if keywords:
            raise FormulaError(f".{method}() takes no keyword arguments", args.start, f".{method}(…)")
        name = {"dot": "dot", "transpose": "transpose"}[method]
        return apply_function(Func(name), [x] + values, self.scope.alpha, node.start)

    def k_prime(self, node):
        f = self.value(node.args[0])
        if not isinstance(f, Func) or f.name == "max":
            raise FormulaError("a prime ' belongs after a function name", node.args[1].start,
                               "σ'(z), relu'(z), tanh'(z)")
        return replace(f, primes=f.primes + 1)

    def k_dprime(self, node):
        """σ″(z): two primes in one character."""
        once = self.k_prime(Node("prime", node.args, node.start, node.end))
        return replace(once, primes=once.primes + 1)

    def k_newmark(self, node):
        """``w*``: the new value of the parameter w (an update line)."""
        if self.scope.free:
            raise FormulaError("a new value (w*) needs a network (a spec)", node.start,
                               "a claim about a network's parameter")
        return updated(self.scope, self.expr(node.args[0]), node.start)

    def k_transpose(self, node):
        if unwrap(node.args[0]).kind == "NUMBER":
            raise FormulaError("a transpose of a number", node.start, "a matrix such as W^T")
        v = self.expr(node.args[0])
        return v.T if is_matrix(v) else v

    def k_sup(self, node):
        base, _, arg = node.args
        if base.kind == "sup" and (base.args[0].kind == "NUMBER" or base.args[0].text == "e") \
                and base.args[2].kind != "group":
            # 2^3^2 and e^x^2 are right-associative: 2^(3^2); e^-x^2 is e^(-(x^2))
            low, sign = base.args[2], None
            if low.kind == "unary":
                sign, low = low.args
            inner = Node("sup", (low, base.args[1], arg), low.start, node.end)
            if sign is not None:
                inner = Node("unary", (sign, inner), sign.start, node.end)
            base, arg = base.args[0], inner
        plain = unwrap(arg)
        if (canon(plain.text) in TRANSPOSE and plain.kind in LEAVES) or \
                (plain.kind == "juxt" and canon(self.src(plain)) in TRANSPOSE):   # {\mathsf T}
            return self.k_transpose(Node("transpose", (base,), node.start, node.end))
        if plain.kind == "PRIME" or canon(plain.text) == "prime":
            return self.k_prime(Node("prime", (base, plain), node.start, node.end))
        leaf, sub = (base, None) if base.kind in LEAVES else (None, None)
        if base.kind == "sub" and base.args[0].kind in LEAVES:
            leaf, sub = base.args
        if leaf is not None:
            if sub is None and self.text[:arg.start].rstrip().endswith("(") and \
                    self._is_loss(leaf):
                raise FormulaError(f"{self.src(leaf)}^{{({self.src(arg)})}}: the loss of example "
                                   f"{self.src(arg)} (the course's ^{{(i)}}) or a "
                                   "power of the loss? One example's loss is not read here: write "
                                   "the loss itself, or a power as (J)^{2}", arg.start,
                                   "the loss, or a power without parentheses")
            found = self.resolve(leaf, sub, arg, quiet=True)
            if found is not None:
                return found
        b = self.value(base)
        if isinstance(b, Func):
            return self.func_power(b, arg)
        if b is sp.E:
            e = self.expr(arg)
            return e.applyfunc(sp.exp) if is_matrix(e) else sp.exp(e)
        return power(self.as_arg(b, base), self.expr(arg), arg.start)

    def k_sub(self, node):
        base, arg = node.args
        if base.kind in LEAVES:
            return self.resolve(base, arg, None)
        if base.kind == "sup" and base.args[0].kind in LEAVES:
            leaf, _, sup = base.args
            found = self.resolve(leaf, arg, sup, quiet=True)
            if found is not None:
                return found
            b = self.resolve(leaf, arg, None)
            if isinstance(b, Func):
                return self.func_power(b, sup)
            return power(b, self.expr(sup), sup.start)
        return self.component(base, arg, node)

    def component(self, base: Node, arg: Node, node: Node):
        """(W^T δ)_j, softmax(z)_i, (∇_a C)_j: entry j of a vector written as a formula."""
        v = self.expr(base)
        if not is_matrix(v) or 1 not in v.shape:
            raise FormulaError("a subscript belongs after a name or a vector", node.start,
                               "a name like w_{17}, or (W^T δ)_j")
        values = self.indices(arg, open_letters=True)
        first = (1 if self.scope.vector_size else 0) if self.scope.free else \
            self.scope.model.notation.index_base
        if not values or len(values) != 1:
            raise FormulaError(f"{self.src(arg)!r} is not the index of an entry", arg.start,
                               "one index, e.g. _j or _2")
        if isinstance(values[0], tuple):
            raise FreeIndex(values[0][0], arg.start, range(first, first + len(v)))
        j = values[0] - first
        if not 0 <= j < len(v):
            raise OutOfRange(f"entry {values[0]} of a vector of {len(v)}", arg.start)
        return v[j]

    def func_power(self, f: Func, arg: Node) -> Func:
        """\\tanh^{2}(a) = tanh(a)²; f^{-1} (an inverse) and other powers are refused."""
        n = self.expr(arg)
        if not (isinstance(n, sp.Integer) and 1 <= n <= 10):
            raise FormulaError(f"{f.name}^{self.src(arg)}: only small whole powers of a function are "
                               "read (\\tanh^{2}(a)); write the inverse out", arg.start,
                               "a power such as 2")
        return replace(f, power=f.power * n)

    # ---- names ---------------------------------------------------------------
    def _is_loss(self, leaf: Node) -> bool:
        """Is the bare name ``leaf`` the loss (J, \\mathcal{L}, E_total)?"""
        try:
            return self.resolve(leaf, None, None, quiet=True) == LOSS
        except FormulaError:
            return False

    def src(self, node: Node | None) -> str:
        return "" if node is None else self.text[node.start:node.end]

    def resolve(self, leaf: Node, sub: Node | None, sup: Node | None, quiet: bool = False):
        return resolve(self, leaf, sub, sup, quiet)

    def indices(self, node: Node | None, open_letters: bool = False) -> list | None:
        """Index values of a script (``kj``, ``l+1``, ``1,13``), None if not index-shaped."""
        return index_values(node, self.bound, self.scope.n_layers, open_letters)
