"""The worked examples of the week-7 lecture notes, computed by convgrad, PyTorch and by hand.

The notes define convolution as a cross-correlation (no kernel flip):
    1-D: (x ⋆ w)[t] = Σ_τ x[t+τ] w[τ]
    2-D: (x ⋆ w)[s, t] = Σ_σ Σ_τ x[s+σ, t+τ] w[σ, τ]
which is exactly what ``conv1d`` / ``conv2d`` compute (and PyTorch's ``conv1d``/``conv2d``).
"""
import numpy as np
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F


def conv2d_single(x, w):
    """One 2-D image and one kernel, as in the notes: no batch, one channel in and out."""
    return F.conv2d(cg.tensor(np.array(x, dtype=np.float64)[None]),
                    cg.tensor(np.array(w, dtype=np.float64)[None, None])).numpy()[0]


def torch_conv2d_single(x, w):
    return TF.conv2d(torch.tensor(x, dtype=torch.float64)[None],
                     torch.tensor(w, dtype=torch.float64)[None, None]).numpy()[0]


# ------------------------------------------------------------------ 2-D, first example
FIRST_INPUT = [[0, 0, 0, 0],
               [1, 0, 0, 1],
               [0, 1, 1, 0],
               [0, 0, 0, 0]]
# The notes' answer.  It is what the 2×2 all-ones kernel gives (each output is the sum of a
# 2×2 block of x); the kernel itself was transcribed as [[0,0,0],[-1,-1,-1]] (DESIGN.md).
FIRST_ANSWER = [[1, 0, 1],
                [2, 2, 2],
                [1, 2, 1]]


def test_first_example_all_ones_kernel_gives_the_notes_answer():
    ones = [[1, 1], [1, 1]]
    np.testing.assert_array_equal(conv2d_single(FIRST_INPUT, ones), FIRST_ANSWER)
    np.testing.assert_array_equal(torch_conv2d_single(FIRST_INPUT, ones), FIRST_ANSWER)


def test_first_example_by_hand_from_the_formula():
    # (x ⋆ w)[s, t] = Σ_σ Σ_τ x[s+σ, t+τ]·1 for σ, τ ∈ {0, 1}, e.g. [1, 1] = 0+0+1+1 = 2.
    x = np.array(FIRST_INPUT)
    by_hand = [[sum(x[s + a, t + b] for a in range(2) for b in range(2)) for t in range(3)]
               for s in range(3)]
    np.testing.assert_array_equal(by_hand, FIRST_ANSWER)


def test_transcribed_kernel_cannot_be_the_one_behind_the_answer():
    # A 2×3 kernel on a 4×4 input gives (4−2+1)×(4−3+1) = 3×2 values, not the 3×3 answer.
    out = conv2d_single(FIRST_INPUT, [[0, 0, 0], [-1, -1, -1]])
    assert out.shape == (3, 2)
    np.testing.assert_array_equal(out, torch_conv2d_single(FIRST_INPUT, [[0, 0, 0], [-1, -1, -1]]))


# ------------------------------------------------------------------ 2-D, second example
SECOND_INPUT = [[0, 1, 1, 0],
                [0, 1, 1, 0],
                [0, 1, 1, 0],
                [0, 1, 2, 0]]
VERTICAL_EDGE = [[1, 0, -1],
                 [1, 0, -1],
                 [1, 0, -1]]
# By hand: (x ⋆ w)[s, t] = Σ_σ (x[s+σ, t] − x[s+σ, t+2]), column t minus column t+2 over
# three rows.
#   [0, 0]: rows 0–2, column 0 (0+0+0) − column 2 (1+1+1) = −3
#   [0, 1]: rows 0–2, column 1 (1+1+1) − column 3 (0+0+0) =  3
#   [1, 0]: rows 1–3, column 0 (0+0+0) − column 2 (1+1+2) = −4
#   [1, 1]: rows 1–3, column 1 (1+1+1) − column 3 (0+0+0) =  3
# Negative where the image gets brighter left to right, positive where it gets darker; the 2
# in the bottom row makes the lower-left response stronger.
SECOND_ANSWER = [[-3, 3],
                 [-4, 3]]


def test_second_example_vertical_edge_kernel():
    mine = conv2d_single(SECOND_INPUT, VERTICAL_EDGE)
    np.testing.assert_array_equal(mine, torch_conv2d_single(SECOND_INPUT, VERTICAL_EDGE))
    np.testing.assert_array_equal(mine, SECOND_ANSWER)


def test_second_example_by_hand_from_the_formula():
    x, w = np.array(SECOND_INPUT), np.array(VERTICAL_EDGE)
    by_hand = [[sum(x[s + a, t + b] * w[a, b] for a in range(3) for b in range(3))
                for t in range(2)] for s in range(2)]
    np.testing.assert_array_equal(by_hand, SECOND_ANSWER)


# ------------------------------------------------------------------ 1-D
# x = [3, 1, 4, 1, 5, 9], w = [2, −1]:  (x ⋆ w)[t] = 2·x[t] − x[t+1]
#   t=0: 2·3 − 1 = 5    t=1: 2·1 − 4 = −2    t=2: 2·4 − 1 = 7
#   t=3: 2·1 − 5 = −3   t=4: 2·5 − 9 = 1
X_1D, W_1D, ANSWER_1D = [3, 1, 4, 1, 5, 9], [2, -1], [5, -2, 7, -3, 1]


def test_1d_formula_on_a_small_example():
    mine = F.conv1d(cg.tensor(np.array([X_1D], dtype=np.float64)),
                    cg.tensor(np.array([[W_1D]], dtype=np.float64))).numpy()
    theirs = TF.conv1d(torch.tensor([X_1D], dtype=torch.float64),
                       torch.tensor([[W_1D]], dtype=torch.float64)).numpy()
    np.testing.assert_array_equal(mine, [ANSWER_1D])
    np.testing.assert_array_equal(theirs, [ANSWER_1D])


def test_1d_weights_are_reused_and_their_gradients_add_up():
    # ∂L/∂w[τ] = Σ_t ∂L/∂y[t] · x[t+τ]; with L = Σ_t y[t] (∂L/∂y = 1) by hand:
    #   ∂L/∂w[0] = x[0]+…+x[4] = 3+1+4+1+5 = 14,   ∂L/∂w[1] = x[1]+…+x[5] = 1+4+1+5+9 = 20
    w = cg.tensor(np.array([[W_1D]], dtype=np.float64), requires_grad=True)
    F.conv1d(cg.tensor(np.array([X_1D], dtype=np.float64)), w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[[14, 20]]])


def test_1d_convolution_is_a_dense_layer_with_repeated_weights():
    # The notes' cost comparison: as a dense layer 6 → 5 it would be a 5×6 matrix (30
    # weights); the convolution's matrix has the same 2 kernel weights on every row, shifted.
    basis = cg.tensor(np.eye(6)[:, None, :])                 # 6 unbatched one-hot inputs
    matrix = F.conv1d(basis, cg.tensor(np.array([[W_1D]], dtype=np.float64))).numpy()[:, 0].T
    expected = np.zeros((5, 6))
    for t in range(5):
        expected[t, t:t + 2] = W_1D
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.size == 30 and len(W_1D) == 2
    np.testing.assert_array_equal(matrix @ np.array(X_1D), ANSWER_1D)
