"""``DataLoader``: mini-batches of NumPy arrays, shuffled reproducibly, resumable mid-epoch.

    loader = DataLoader(x, y, batch_size=100, shuffle=True, seed=0)
    for epoch in range(epochs):
        for x_batch, y_batch in loader:      # a new permutation every epoch
            ...

Shuffling draws one permutation per epoch from the loader's own
``numpy.random.Generator`` (seeded by ``seed``), never from a global RNG, so the order of
batches depends on nothing but the seed and the epoch.

Resuming.  ``get_state()`` returns JSON-serialisable data: the generator's state *before*
the current epoch's permutation was drawn, and how many batches of that epoch have been
handed out.  After ``set_state(state)``, the next ``iter(loader)`` draws the same
permutation again and continues with the batch after the last one handed out, so a run
that saves the state with each checkpoint (after the step that used the batch) and restores
it on resume sees exactly the batches an uninterrupted run sees.  A batch counts as handed
out as soon as the loop receives it.  Starting a new ``iter(loader)`` without a pending
``set_state`` always begins a new epoch, like PyTorch's DataLoader.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

STATE_VERSION = 1


class DataLoader:
    """Iterate ``(x_batch, y_batch)`` over the first axis of ``x`` and ``y``.

    Args:
        x, y: arrays with the same length along axis 0.
        batch_size: samples per batch (the last one may be smaller unless ``drop_last``).
        shuffle: draw a new permutation each epoch (else the order is 0, 1, 2, ...).
        seed: seeds the loader's own generator (an int, or None for fresh OS entropy).
        drop_last: drop the last batch if it is smaller than ``batch_size``.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False,
                 seed: int | None = None, drop_last: bool = False):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size!r}")
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
            raise ValueError(f"DataLoader: x and y need the same length along axis 0, got "
                             f"shapes {x.shape} and {y.shape}")
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = np.random.default_rng(seed)
        self.epoch = 0                 # epochs begun so far (including one in progress)
        self._epoch_start_state = None  # generator state before this epoch's permutation
        self._position = 0             # batches of the current epoch handed out
        self._in_epoch = False         # an epoch has begun and not finished
        self._resume = False           # set_state() asked the next iter() to continue

    def __len__(self) -> int:
        """The number of batches per epoch."""
        if self.drop_last:
            return len(self.x) // self.batch_size
        return math.ceil(len(self.x) / self.batch_size)

    @property
    def num_samples(self) -> int:
        return len(self.x)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if self._resume:
            self._resume = False
            self.generator.bit_generator.state = self._epoch_start_state
            start = self._position
        else:
            self._epoch_start_state = self.generator.bit_generator.state
            self.epoch += 1
            start = self._position = 0
        self._in_epoch = True
        order = self.generator.permutation(len(self.x)) if self.shuffle else None
        return self._batches(order, start)

    def _batches(self, order, start):
        size = self.batch_size
        for index in range(start, len(self)):
            # Counted before the yield: while the loop body runs, this batch is handed out.
            self._position = index + 1
            if order is None:   # slices are views: no copy for an unshuffled pass
                yield self.x[index * size:(index + 1) * size], \
                    self.y[index * size:(index + 1) * size]
            else:
                chosen = order[index * size:(index + 1) * size]
                yield self.x[chosen], self.y[chosen]
        self._in_epoch = False
        self._position = 0

    def get_state(self) -> dict:
        """Where the loader stands, as JSON-serialisable data (see the module docstring)."""
        if self._in_epoch or self._resume:
            # Mid-epoch: replay this epoch's permutation, skip what was handed out.
            generator_state, position = self._epoch_start_state, self._position
            completed = self.epoch - 1
        else:
            generator_state, position = self.generator.bit_generator.state, 0
            completed = self.epoch
        return {"version": STATE_VERSION, "generator": _plain(generator_state),
                "position": position, "epochs_completed": completed,
                "num_samples": len(self.x), "batch_size": self.batch_size,
                "shuffle": self.shuffle, "drop_last": self.drop_last}

    def set_state(self, state: dict) -> None:
        """Restore ``get_state()``'s result; the next ``iter()`` continues from there."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError(f"DataLoader.set_state: expected a state of version "
                             f"{STATE_VERSION}, got {state!r:.80}")
        for key in ("num_samples", "batch_size", "shuffle", "drop_last"):
            mine = len(self.x) if key == "num_samples" else getattr(self, key)
            if state.get(key) != mine:
                raise ValueError(f"DataLoader.set_state: the state was saved with {key}="
                                 f"{state.get(key)!r}, this loader has {key}={mine!r}")
        position = int(state["position"])
        if not 0 <= position <= len(self):
            raise ValueError(f"DataLoader.set_state: position {position} is outside "
                             f"[0, {len(self)}]")
        name = self.generator.bit_generator.state["bit_generator"]
        if state["generator"].get("bit_generator") != name:
            raise ValueError(f"DataLoader.set_state: generator state is for "
                             f"{state['generator'].get('bit_generator')!r}, this loader uses "
                             f"{name!r}")
        self.generator.bit_generator.state = state["generator"]
        self._epoch_start_state = self.generator.bit_generator.state
        self._in_epoch = False
        self.epoch = int(state["epochs_completed"])
        if position == len(self) and position > 0:
            # Every batch was handed out: the epoch is over.  Draw its permutation to leave
            # the generator where the finished epoch left it.
            if self.shuffle:
                self.generator.permutation(len(self.x))
            self.epoch += 1
            position = 0
        # Position 0 means "the next epoch starts from this generator state": no resume.
        self._resume = position > 0
        self._position = position
        if self._resume:
            self.epoch += 1  # the resumed epoch has begun

    def __repr__(self) -> str:
        return (f"DataLoader(samples={len(self.x)}, batch_size={self.batch_size}, "
                f"batches={len(self)}, shuffle={self.shuffle}, drop_last={self.drop_last})")


def _plain(value):
    """Deep copy with NumPy scalars turned into Python ones, so ``json.dumps`` accepts it."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value
