"""Shuffled positions (the MNIST-1D paper's test of locality): one fixed permutation, drawn
from the seed, applied to every training and test sample alike — in the data set a run
trains on, in ``load_run`` and ``convgrad eval`` of that run, and in ``convgrad compare
--shuffle``, which prints the paper's shuffled row beside its own."""
import json

import numpy as np
import pytest

from convgrad.data import (Dataset, load_dataset, permute_positions, position_permutation,
                           shuffle_positions)
from convgrad.train import load_run
from test_train_support import assert_one_line_error, convgrad, data_home


def _signals(n, shape, seed):
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def test_one_permutation_drawn_from_the_seed():
    first = position_permutation((1, 40), seed=0)
    assert np.array_equal(np.sort(first), np.arange(40))
    assert not np.array_equal(first, np.arange(40))
    assert np.array_equal(first, position_permutation((1, 40), seed=0))
    assert not np.array_equal(first, position_permutation((1, 40), seed=1))
    assert position_permutation((3, 8, 8), seed=0).shape == (64,)


def test_the_same_permutation_moves_every_train_and_test_sample():
    shape = (2, 6)
    data = Dataset("toy", _signals(5, shape, 1), np.arange(5) % 3, _signals(4, shape, 2),
                   np.arange(4) % 3, ("a", "b", "c"), shape)
    shuffled = shuffle_positions(data, seed=7)
    permutation = position_permutation(shape, 7)
    for split in ("train", "test"):
        before, after = getattr(data, f"{split}_x"), getattr(shuffled, f"{split}_x")
        # out[n, c, i] = x[n, c, perm[i]] for every sample and channel, and nothing else
        for n in range(len(before)):
            for c in range(shape[0]):
                assert [after[n, c, i] for i in range(shape[1])] == \
                    [before[n, c, permutation[i]] for i in range(shape[1])]
        assert after.dtype == np.float32
        assert np.array_equal(getattr(shuffled, f"{split}_y"), getattr(data, f"{split}_y"))


def test_image_pixels_move_with_all_their_channels():
    x = _signals(2, (3, 2, 3), 4)
    permutation = position_permutation((3, 2, 3), 0)
    out = permute_positions(x, permutation)
    flat_in, flat_out = x.reshape(2, 3, 6), out.reshape(2, 3, 6)
    assert np.array_equal(flat_out, flat_in[:, :, permutation])
    with pytest.raises(ValueError, match="expected a permutation of the 6 positions"):
        permute_positions(x, np.zeros(6, dtype=int))


def test_a_shuffled_run_loads_and_evaluates_on_its_shuffled_data(tmp_path, monkeypatch):
    process = convgrad("train", "--model", "cnn", "--steps", "60", "--eval-every", "30",
                       "--shuffle-positions", "--seed", "3", "--quiet", "--json", "--out",
                       "run", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    record = json.loads(process.stdout)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["shuffle_positions"]
    evaluated = convgrad("eval", "run", "--json", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["accuracy"] == record["test_accuracy"]

    monkeypatch.setenv("CONVGRAD_HOME", str(data_home()))
    plain, run = load_dataset("mnist1d"), load_run(tmp_path / "run")
    permutation = position_permutation((1, 40), 3)
    assert np.array_equal(run.data.train_x, plain.train_x[:, :, permutation])
    assert np.array_equal(run.data.test_x, plain.test_x[:, :, permutation])


def test_compare_shuffle_prints_the_papers_shuffled_row(tmp_path):
    process = convgrad("compare", "--shuffle", "--steps", "60", "--eval-every", "30",
                       "--json", "--out", "cmp", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    record = json.loads(process.stdout)
    assert record["shuffled"] is True
    assert {row["model"]: row["paper_accuracy"] for row in record["rows"]} == \
        {"logistic": 0.32, "mlp": 0.68, "cnn": 0.56}
    for row in record["rows"]:
        config = json.loads((tmp_path / "cmp" / row["model"] / "config.json").read_text())
        assert config["shuffle_positions"] is True and row["shuffled"] is True
    assert "no longer related" in record["reading"]

    table = convgrad("compare", "--shuffle", "--steps", "30", "--eval-every", "30", "--quiet",
                     "--out", "cmp2", cwd=tmp_path)
    lines = table.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model"))
    assert lines[header].split()[4:7] == ["paper", "paper", "unshuffled"]
    assert lines[header + 4].split()[:2] == ["CNN", "5,210"]
    assert lines[header + 4].split()[3:5] == ["56%", "94%"]
    assert_one_line_error(convgrad("compare", "--shuffle", "--out", "cmp", cwd=tmp_path),
                          "already holds the runs of a comparison")
