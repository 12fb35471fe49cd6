"""DataLoader: batching, drop_last, seeded shuffles, and resuming mid-epoch from saved state."""
import json

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from torch.utils.data import DataLoader as TorchDataLoader, TensorDataset

from convgrad.data import DataLoader


def toy(n=10):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)  # row i is [2i, 2i+1]
    return x, np.arange(n, dtype=np.int64)


def epoch(loader):
    return [(xb.copy(), yb.copy()) for xb, yb in loader]


def labels_of(batches):
    return [yb.tolist() for _, yb in batches]


@pytest.mark.parametrize("n", [1, 9, 10, 11])
@pytest.mark.parametrize("batch_size", [1, 3, 4, 10, 11])
@pytest.mark.parametrize("drop_last", [False, True])
def test_len_and_batch_sizes_match_torch(n, batch_size, drop_last):
    x, y = toy(n)
    ours = DataLoader(x, y, batch_size, drop_last=drop_last)
    theirs = TorchDataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                             batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [len(yb) for _, yb in ours] == [len(yb) for _, yb in theirs]
    for (xb, yb), (txb, tyb) in zip(ours, theirs):  # unshuffled: the same batches
        np.testing.assert_array_equal(xb, txb.numpy())
        np.testing.assert_array_equal(yb, tyb.numpy())


def test_unshuffled_batches_in_order():
    x, y = toy(10)
    batches = epoch(DataLoader(x, y, 4))
    assert labels_of(batches) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    np.testing.assert_array_equal(batches[2][0], [[16, 17], [18, 19]])
    assert labels_of(epoch(DataLoader(x, y, 4, drop_last=True))) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_shuffle_is_a_new_permutation_each_epoch_and_keeps_pairs():
    x, y = toy(50)
    loader = DataLoader(x, y, 8, shuffle=True, seed=0)
    first, second = epoch(loader), epoch(loader)
    for batches in (first, second):
        order = np.concatenate([yb for _, yb in batches])
        assert sorted(order.tolist()) == list(range(50))
        for xb, yb in batches:  # each x row still sits beside its own label
            np.testing.assert_array_equal(xb[:, 0], 2 * yb)
    assert labels_of(first) != labels_of(second)
    assert labels_of(first) != [list(range(i, min(i + 8, 50))) for i in range(0, 50, 8)]


def test_same_seed_same_stream_other_seed_other_stream():
    x, y = toy(30)
    a, b = DataLoader(x, y, 7, shuffle=True, seed=3), DataLoader(x, y, 7, shuffle=True, seed=3)
    c = DataLoader(x, y, 7, shuffle=True, seed=4)
    stream_a = [labels_of(epoch(a)) for _ in range(3)]
    assert stream_a == [labels_of(epoch(b)) for _ in range(3)]
    assert stream_a != [labels_of(epoch(c)) for _ in range(3)]
    # the permutation is the loader's generator's: numpy's default_rng(seed).permutation
    expected = np.random.default_rng(3).permutation(30)
    assert sum(stream_a[0], []) == expected.tolist()


def test_shuffling_ignores_and_leaves_the_global_rngs():
    x, y = toy(20)
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    one = labels_of(epoch(DataLoader(x, y, 5, shuffle=True, seed=1)))
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    np.random.seed(99)
    assert labels_of(epoch(DataLoader(x, y, 5, shuffle=True, seed=1))) == one


def test_drop_last_with_shuffle_drops_a_different_remainder_each_epoch():
    x, y = toy(10)
    loader = DataLoader(x, y, 4, shuffle=True, seed=0, drop_last=True)
    dropped = set()
    for _ in range(6):
        batches = epoch(loader)
        assert [len(yb) for _, yb in batches] == [4, 4]
        dropped.add(frozenset(set(range(10)) - set(sum(labels_of(batches), []))))
    assert len(dropped) > 1


def take(loader, count):
    """The next ``count`` batches of a run that goes on across epochs."""
    out = []
    while len(out) < count:
        for batch in loader:
            out.append((batch[0].copy(), batch[1].copy()))
            if len(out) == count:
                break
    return out


@pytest.mark.parametrize("stop_after", [0, 1, 3, 4, 5, 9, 12])
@pytest.mark.parametrize("drop_last", [False, True])
def test_resume_mid_stream_exactly(stop_after, drop_last):
    """A run interrupted after ``stop_after`` batches and resumed from its saved state
    (through JSON, as in a checkpoint) sees the very batches of an uninterrupted run."""
    x, y = toy(11)  # 4 batches of 3 (the last of 2), or 3 with drop_last
    reference = labels_of(take(DataLoader(x, y, 3, shuffle=True, seed=5,
                                          drop_last=drop_last), 20))
    interrupted = DataLoader(x, y, 3, shuffle=True, seed=5, drop_last=drop_last)
    seen, state = [], None
    for batch in take_iter(interrupted, stop_after):
        seen.append(batch[1].tolist())
    state = json.loads(json.dumps(interrupted.get_state()))
    resumed = DataLoader(x, y, 3, shuffle=True, seed=123, drop_last=drop_last)  # seed overridden
    resumed.set_state(state)
    seen += labels_of(take(resumed, 20 - stop_after))
    assert seen == reference


def take_iter(loader, count):
    """Yield ``count`` batches, stopping mid-loop like a run that is killed (no cleanup)."""
    given = 0
    while given < count:
        for batch in loader:
            given += 1
            yield batch
            if given == count:
                return


def test_state_reports_position_and_epochs():
    x, y = toy(10)
    loader = DataLoader(x, y, 4, shuffle=True, seed=0)
    state = loader.get_state()
    assert state["position"] == 0 and state["epochs_completed"] == 0
    assert json.loads(json.dumps(state)) == state
    iterator = iter(loader)
    next(iterator)
    next(iterator)
    assert loader.get_state()["position"] == 2 and loader.get_state()["epochs_completed"] == 0
    list(iterator)
    assert loader.get_state()["position"] == 0 and loader.get_state()["epochs_completed"] == 1


def test_unshuffled_resume():
    x, y = toy(10)
    loader = DataLoader(x, y, 3)
    iterator = iter(loader)
    next(iterator)
    state = loader.get_state()
    other = DataLoader(x, y, 3)
    other.set_state(state)
    assert labels_of(epoch(other)) == [[3, 4, 5], [6, 7, 8], [9]]
    assert labels_of(epoch(other))[0] == [0, 1, 2]


def test_set_state_refuses_a_state_from_another_loader():
    x, y = toy(10)
    state = DataLoader(x, y, 4, shuffle=True, seed=0).get_state()
    with pytest.raises(ValueError, match="saved with batch_size=4, this loader has batch_size=5"):
        DataLoader(x, y, 5, shuffle=True).set_state(state)
    with pytest.raises(ValueError, match="saved with num_samples=10, this loader has "
                                         "num_samples=9"):
        DataLoader(*toy(9), 4, shuffle=True).set_state(state)
    with pytest.raises(ValueError, match="saved with shuffle=True"):
        DataLoader(x, y, 4).set_state(state)
    with pytest.raises(ValueError, match="position 7 is outside"):
        DataLoader(x, y, 4, shuffle=True).set_state({**state, "position": 7})
    with pytest.raises(ValueError, match="expected a state of version 1"):
        DataLoader(x, y, 4).set_state({"version": 99})


def test_bad_arguments():
    x, y = toy(10)
    for bad in (0, -1, 2.5, True, None):
        with pytest.raises(ValueError, match=f"batch_size should be a positive integer value, "
                                             f"but got batch_size={bad!r}"):
            DataLoader(x, y, bad)
    with pytest.raises(ValueError, match=r"same length along axis 0, got shapes \(10, 2\) and "
                                         r"\(9,\)"):
        DataLoader(x, y[:9], 2)


@given(n=st.integers(0, 40), batch_size=st.integers(1, 12), drop_last=st.booleans(),
       shuffle=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_every_sample_at_most_once_per_epoch(n, batch_size, drop_last, shuffle, seed):
    x, y = toy(n)
    loader = DataLoader(x, y, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
    batches = epoch(loader)
    assert len(batches) == len(loader)
    assert all(len(yb) == batch_size for _, yb in batches[:-1])
    order = sum(labels_of(batches), [])
    assert len(set(order)) == len(order)
    assert len(order) == (n // batch_size * batch_size if drop_last else n)
    if not shuffle:
        assert order == list(range(len(order)))
