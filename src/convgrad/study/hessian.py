"""The Hessian's extreme eigenvalues at a point, from gradients alone.

Hessian-vector product by central differences of the gradient (no second derivatives in
the engine, and no n × n matrix: a network has hundreds of thousands of parameters):

    H v ≈ (∇L(θ + εv) − ∇L(θ − εv)) / 2ε            error O(ε²), for ‖v‖ = 1

ε must be tiny, for a reason beyond rounding: a ReLU network's gradient jumps wherever a
unit's input crosses 0, and if one of the (samples × units) inputs crosses between θ − εv
and θ + εv, the difference adds jump/2ε — a term that does not shrink with ε, only
becomes rarer.  Measured on resnet1d (14 layers, 500 samples, float64): ε = 1e-3 or 1e-6
gave Lanczos "eigenvectors" whose own product disagreed with them (λ_max 91 to 142
depending on the start vector); ε ≤ 1e-7 gave λ_max = 94.0702 from every start.  Deeper
nets have more units to cross: on plain1d-50 (1000 samples) the Rayleigh quotient of one
fixed vector was 4110 at ε = 1e-6, 21234 at 1e-7 and 2446.080, 2446.080, 2446.081 at 1e-8,
1e-9, 1e-10.  Hence float64 and ε = 1e-8 by default.

Every method sees H only through such products.  Power iteration (``power_iteration``),
from a random unit vector v:

    w = H v,   λ = vᵀw (the Rayleigh quotient),   v ← w / ‖w‖

converges to the eigenvalue of largest magnitude λ_a at the rate |λ_next / λ_a| per
product — slowly when the next eigenvalue is close.  The other end of the spectrum is the
dominant eigenvalue of B = H − λ_a I (eigenvalues λ − λ_a), whose rate is
(λ_next_b − λ_a)/(λ_b − λ_a): for a trained network, with a few large eigenvalues above a
crowd near 0, within a hair of 1.

Lanczos (``lanczos``, the default) spends the same products better: it keeps the Krylov
space {v, Hv, H²v, …} that power iteration walks through, as an orthonormal basis Q_k
(each new vector orthogonalised against every previous one, twice), where H is the
tridiagonal T_k = Q_kᵀ H Q_k:

    w = H q_k − α_k q_k − β_{k−1} q_{k−1},   α_k = q_kᵀ H q_k,   β_k = ‖w‖,   q_{k+1} = w / β_k

The extreme eigenvalues of T_k (Ritz values) approach λ_max and λ_min together, with
residuals |β_k s_k| (s the eigenvector of T_k) known without another product; the
largest is never below power iteration's estimate from the same start after as many
products.

Both stop when each value's residual is at most tol times the value itself (r ≤ tol·|λ|:
λ within 1% of an eigenvalue at the default tol = 0.01), or at ``max_iterations``
products, reported as not converged.  The bound is relative to each value, not to λ_max,
on purpose: λ_min of a trained network is hundreds to thousands of times smaller than
λ_max (measured: −0.817 beside 2446 for plain1d-50), and a bound of tol·λ_max let Lanczos
stop after 10 products at a Ritz value of −0.0024 that was still inside the crowd near 0;
it reached −0.81697 after about 30.  Lanczos also runs at least ``MIN_LANCZOS`` products
before it may stop.

Each final value is then checked by one more product with its own vector: λ = vᵀHv and
r = ‖Hv − λv‖ are what is reported.  A symmetric matrix has an eigenvalue within r of
any Rayleigh quotient, so r is an error bar that does not trust the method.

Li et al. (2018) map non-convexity by |λ_min / λ_max|: near 0 the surface is convex along
every direction that matters.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

Gradient = Callable[[np.ndarray], np.ndarray]       # θ -> ∇L(θ), float64 vectors
Product = Callable[[np.ndarray], np.ndarray]        # v -> H v
METHODS = ("lanczos", "power")
MIN_LANCZOS = 10


@dataclass(frozen=True)
class Estimate:
    value: float          # a Rayleigh quotient of H
    residual: float       # ‖H v − λ v‖ of its unit vector: an eigenvalue lies within it
    vector: np.ndarray


@dataclass(frozen=True)
class HessianExtremes:
    lambda_max: float
    lambda_min: float
    residual_max: float
    residual_min: float
    products: int          # Hessian-vector products spent (two gradients each)
    converged: bool        # both residuals ≤ tol·|λ| of their own value
    method: str
    eps: float
    tol: float
    seconds: float

    @property
    def ratio(self) -> float | None:
        """Li et al.'s non-convexity ratio |λ_min / λ_max| (None if λ_max is 0)."""
        return abs(self.lambda_min / self.lambda_max) if self.lambda_max else None

    def to_dict(self) -> dict:
        return dict(asdict(self), ratio=self.ratio)


def hessian_vector_product(gradient: Gradient, theta: np.ndarray, v: np.ndarray,
                           eps: float) -> np.ndarray:
    """H v ≈ (∇L(θ + εv) − ∇L(θ − εv)) / 2ε."""
    plus = gradient(theta + eps * v)
    minus = gradient(theta - eps * v)
    return (plus - minus) / (2.0 * eps)


def rayleigh(apply: Product, v: np.ndarray) -> Estimate:
    """λ = vᵀHv and ‖Hv − λv‖ for unit ``v``: one product."""
    w = apply(v)
    value = float(v @ w)
    return Estimate(value, float(np.linalg.norm(w - value * v)), v)


def power_iteration(apply: Product, start: np.ndarray, max_iterations: int,
                    done: Callable[[Estimate], bool], shift: float = 0.0,
                    on_step: Callable[[int, float], None] | None = None
                    ) -> tuple[Estimate, int]:
    """The eigenvalue of largest magnitude of ``apply − shift·I`` (``apply`` symmetric)
    with ``shift`` added back, and the products spent; stops when ``done(estimate)`` or
    after ``max_iterations``."""
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be at least 1, got {max_iterations}")
    v = start / np.linalg.norm(start)
    for iteration in range(1, max_iterations + 1):
        w = apply(v) - shift * v
        value = float(v @ w)
        estimate = Estimate(value + shift, float(np.linalg.norm(w - value * v)), v)
        if on_step is not None:
            on_step(iteration, estimate.value)
        norm = float(np.linalg.norm(w))
        if done(estimate) or norm == 0.0 or iteration == max_iterations:
            # norm 0: v is an exact eigenvector, of eigenvalue `shift`.
            return estimate, iteration
        v = w / norm
    raise AssertionError("unreachable")


def lanczos(apply: Product, start: np.ndarray, max_iterations: int,
            done: Callable[[Estimate, Estimate], bool],
            on_step: Callable[[int, float], None] | None = None
            ) -> tuple[Estimate, Estimate, int]:
    """The largest and smallest Ritz pairs of ``apply`` (symmetric) and the products
    spent (see the module docstring); stops when ``done(largest, smallest)`` after at
    least ``MIN_LANCZOS`` products, when the Krylov space is exhausted (β = 0: the Ritz
    values are eigenvalues) or after ``max_iterations``."""
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be at least 1, got {max_iterations}")
    basis = np.zeros((max_iterations + 1, start.size))
    basis[0] = start / np.linalg.norm(start)
    alphas, betas = [], []
    for k in range(max_iterations):
        w = apply(basis[k])
        alphas.append(float(basis[k] @ w))
        # Full reorthogonalisation, twice ("twice is enough"): in floating point the
        # three-term recurrence alone loses orthogonality and repeats eigenvalues.
        for _ in range(2):
            w -= basis[:k + 1].T @ (basis[:k + 1] @ w)
        betas.append(float(np.linalg.norm(w)))
        tridiagonal = np.diag(alphas) + np.diag(betas[:-1], 1) + np.diag(betas[:-1], -1)
        ritz, vectors = np.linalg.eigh(tridiagonal)
        pairs = [Estimate(float(ritz[i]), float(abs(betas[-1] * vectors[-1, i])),
                          vectors[:, i]) for i in (-1, 0)]
        if on_step is not None:
            on_step(k + 1, pairs[0].value)
        exhausted = betas[-1] <= 1e-12 * max(abs(ritz[0]), abs(ritz[-1]), 1e-300)
        if exhausted or (k + 1 >= MIN_LANCZOS and done(*pairs)):
            break
        basis[k + 1] = w / betas[-1]
    # The Ritz vectors in the full space: Q_k s.
    largest, smallest = (Estimate(p.value, p.residual, basis[:k + 1].T @ p.vector)
                         for p in pairs)
    return largest, smallest, k + 1


def extreme_eigenvalues(gradient: Gradient, theta: np.ndarray, seed: int = 0,
                        tol: float = 1e-2, max_iterations: int = 40, eps: float = 1e-8,
                        method: str = "lanczos",
                        on_step: Callable[[int, float], None] | None = None
                        ) -> HessianExtremes:
    """λ_max and λ_min of the Hessian of L at ``theta`` (see the module docstring), each
    checked by one more product.

    ``max_iterations`` bounds the products of Lanczos, and of each of power iteration's
    two runs; start vectors are Gaussian draws of ``default_rng([seed, 2])`` (and
    ``[seed, 3]`` for power iteration's second run)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    started = time.perf_counter()

    def apply(v):
        return hessian_vector_product(gradient, theta, v, eps)

    def start(k):
        return np.random.default_rng([seed, k]).standard_normal(theta.size)

    def small(*estimates: Estimate) -> bool:
        return all(e.residual <= tol * abs(e.value) for e in estimates)

    if method == "lanczos":
        top, bottom, products = lanczos(apply, start(2), max_iterations, small,
                                        on_step=on_step)
    else:
        first, products = power_iteration(apply, start(2), max_iterations, small,
                                          on_step=on_step)
        second, more = power_iteration(apply, start(3), max_iterations, small,
                                       shift=first.value, on_step=on_step)
        products += more
        top, bottom = sorted((first, second), key=lambda e: e.value, reverse=True)
    top, bottom = (rayleigh(apply, e.vector / np.linalg.norm(e.vector)) for e in (top, bottom))
    top, bottom = sorted((top, bottom), key=lambda e: e.value, reverse=True)
    return HessianExtremes(
        lambda_max=top.value, lambda_min=bottom.value, residual_max=top.residual,
        residual_min=bottom.residual, products=products + 2, converged=small(top, bottom),
        method=method, eps=eps, tol=tol, seconds=time.perf_counter() - started)
