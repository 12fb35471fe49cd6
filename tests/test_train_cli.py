"""The ``convgrad train / eval / compare / summary`` commands through the console script:
what they print, and one clear line (exit status 2, no traceback) for every bad input."""
import json
import re
import shutil

import numpy as np
import pytest

from convgrad.train.checkpoint import load_checkpoint
from test_train_support import assert_one_line_error, convgrad, strict_json

QUICK = ["--steps", "30", "--eval-every", "10", "--checkpoint-every", "10", "--quiet"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A finished logistic run and a finished MLP run."""
    cwd = tmp_path_factory.mktemp("runs")
    for model in ("logistic", "mlp"):
        process = convgrad("train", "--model", model, *QUICK, "--out", model, cwd=cwd)
        assert process.returncode == 0, process.stderr
    return cwd


# ---------------------------------------------------------------------------- train
def test_train_prints_progress_lines_and_ends_with_the_test_accuracy(tmp_path):
    process = convgrad("train", "--model", "cnn", "--steps", "20", "--eval-every", "10",
                       cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    lines = process.stdout.strip().splitlines()
    assert lines[0].startswith("training cnn on mnist1d (4000 train / 1000 test samples) in "
                               "runs/cnn-mnist1d-")
    assert lines[0].endswith("adam, lr 0.01, batch 100, 20 steps, seed 0")
    assert [line.split("/")[0] for line in lines if line.startswith("step")] == \
        ["step  0", "step 10", "step 20"]
    assert "20/20 steps, 5,210 parameters, training time" in process.stdout
    assert "ms/step), wall time " in process.stdout and "best test accuracy:" in process.stdout
    run_dir = next((tmp_path / "runs").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert lines[-1] == f"test accuracy: {summary['test_accuracy']:.2%}"
    assert process.stderr == ""            # no progress bar when stderr is not a terminal


def test_train_json_summary(tmp_path):
    # --json alone: stdout holds the JSON and nothing else (no progress lines)
    process = convgrad("train", "--model", "logistic", "--steps", "10", "--json",
                       "--out", "r", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    record = json.loads(process.stdout)
    assert record["parameters"] == 410 and record["steps"] == 10
    assert record["run_dir"] == "r" and record["interrupted"] is False


def test_dataset_alone_picks_its_model(tmp_path):
    process = convgrad("train", "--dataset", "digits", "--steps", "3", "--eval-every", "0",
                       "--quiet", "--out", "d", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    assert json.loads((tmp_path / "d" / "config.json").read_text())["model"] == "lenet5-small"


@pytest.mark.parametrize("args, fragments", [
    (["--model", "nope"], ["unknown model 'nope'", "models: logistic, mlp, cnn"]),
    (["--model", "cnnn"], ["did you mean 'cnn'?"]),
    (["--dataset", "imagenet"], ["unknown dataset 'imagenet'"]),
    (["--lr", "0"], ["--lr must be greater than 0, got 0"]),
    (["--lr", "-0.5"], ["--lr must be greater than 0, got -0.5"]),
    (["--lr", "fast"], ["--lr: invalid float value: 'fast'"]),
    (["--lr", "nan"], ["--lr must be a finite number"]),
    (["--batch-size", "0"], ["--batch-size must be at least 1, got 0"]),
    (["--batch-size", "5000"], ["--batch-size 5000 is larger than the 4000 training samples"]),
    (["--steps", "0"], ["--steps must be at least 1, got 0"]),
    (["--epochs", "0"], ["--epochs must be at least 1"]),
    (["--steps", "10", "--epochs", "1"], ["give --steps or --epochs, not both"]),
    (["--momentum", "0.9"], ["--momentum applies to --optimizer sgd only"]),
    (["--optimizer", "rmsprop"], ["--optimizer: invalid choice: 'rmsprop'"]),
    (["--model", "lenet5", "--dataset", "mnist1d"],
     ["model lenet5 takes inputs of shape (1, 28, 28) but mnist1d",
                             "models for mnist1d: logistic, mlp, cnn"]),
    (["--model", "cnn", "--dataset", "digits"], ["model cnn takes inputs of shape (1, 40)"]),
    (["--augment"], ["--augment (random crop and flip) is for image data sets"]),
    (["--warmup-steps", "50", "--steps", "50"], ["leaves no steps for the schedule"]),
    (["--dataset", "mnist", "--data-dir", "no/such/folder"], ["no/such/folder"]),
    (["--resume", "missing"], ["--resume missing: no such folder"]),
    (["--resume"], ["--resume: no run under runs/ to resume"]),
])
def test_train_bad_input_is_one_line(tmp_path, args, fragments):
    process = convgrad("train", *args, "--quiet", cwd=tmp_path)
    assert_one_line_error(process, *fragments)
    assert process.returncode == 2


def test_a_data_set_that_fails_to_load_leaves_no_run_folder(tmp_path):
    process = convgrad("train", "--dataset", "fashion-mnist", "--data-dir", "nowhere", "--out",
                       "run", cwd=tmp_path)
    assert_one_line_error(process, "nowhere", "fashion-mnist")
    assert process.stdout == ""
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


def test_train_data_dir_that_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    process = convgrad("train", "--dataset", "mnist", "--data-dir", "file", cwd=tmp_path)
    assert_one_line_error(process, "file: not a folder")


def test_train_refuses_to_overwrite_a_run_and_resume_refuses_other_options(runs, tmp_path):
    shutil.copytree(runs / "logistic", tmp_path / "run")
    assert_one_line_error(convgrad("train", "--out", "run", cwd=tmp_path),
                          "already holds a run; continue it with --resume run")
    assert_one_line_error(convgrad("train", "--resume", "run", "--model", "mlp", cwd=tmp_path),
                          "--model mlp differs from the run being resumed (--model logistic)")
    assert_one_line_error(convgrad("train", "--resume", "run", "--lr", "0.1", cwd=tmp_path),
                          "--lr 0.1 differs")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(convgrad("train", "--resume", "empty", cwd=tmp_path),
                          "no checkpoint to resume from")
    # options that agree once normalised are fine
    finished = convgrad("train", "--resume", "run", "--steps", "30", "--model", "LOGISTIC",
                        "--dataset", "MNIST-1D", "--quiet", cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert "already finished (30 steps); nothing to do" in finished.stdout
    assert_one_line_error(convgrad("train", "--resume", "run", "--epochs", "2", cwd=tmp_path),
                          "--epochs 2 differs from the run being resumed (no --epochs)")
    # a run started with the defaults has 6000 steps, though its config says none
    (tmp_path / "default").mkdir()
    (tmp_path / "default" / "config.json").write_text('{"model": "cnn"}')
    assert_one_line_error(convgrad("train", "--resume", "default", "--steps", "5999",
                                   cwd=tmp_path), "(--steps 6000)")


def test_two_processes_never_train_into_one_folder(tmp_path):
    import time

    from test_train_support import start
    first = start("train", "--steps", "3000", "--eval-every", "0", "--quiet", "--out", "run",
                  cwd=tmp_path)
    try:
        while not (tmp_path / "run" / "config.json").exists() and first.poll() is None:
            time.sleep(0.005)
        second = convgrad("train", "--resume", "run", cwd=tmp_path)
        assert_one_line_error(second, "run: another convgrad train is running in this folder")
    finally:
        first.kill()
        first.communicate()


def test_resume_without_a_folder_takes_the_newest_run(runs, tmp_path):
    shutil.copytree(runs / "logistic", tmp_path / "runs" / "logistic-old")
    process = convgrad("train", "--resume", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    assert "resuming from step 30: logistic on mnist1d" in process.stdout
    assert "in runs/logistic-old/" in process.stdout


def test_resume_with_a_corrupt_checkpoint(runs, tmp_path):
    shutil.copytree(runs / "logistic", tmp_path / "run")
    weights = next((tmp_path / "run" / "checkpoints").glob("step-0000030")) / \
        "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    assert_one_line_error(convgrad("train", "--resume", "run", cwd=tmp_path),
                          "model.safetensors: 100 bytes, but meta.json recorded")


# ---------------------------------------------------------------------------- eval
def test_eval_prints_accuracy_per_class_and_confusion_matrix(runs):
    process = convgrad("eval", "mlp", cwd=runs)
    assert process.returncode == 0, process.stderr
    out = process.stdout
    summary = json.loads((runs / "mlp" / "summary.json").read_text())
    assert f"accuracy: {summary['test_accuracy']:.2%}" in out
    assert "mlp at step 30 on the mnist1d test set (1000 samples)" in out
    lines = out.splitlines()
    matrix = lines[lines.index("confusion matrix (rows: true class, columns: predicted class)")
                   + 1:]
    assert matrix[0].split() == [str(i) for i in range(10)]
    counts = np.array([[int(v) for v in line.split()[1:]] for line in matrix[1:]])
    assert counts.sum() == 1000 and np.trace(counts) == round(summary["test_accuracy"] * 1000)
    assert len({len(line) for line in matrix[1:]}) == 1


def test_eval_json_and_a_lone_weights_file(runs):
    as_json = json.loads(convgrad("eval", "logistic", "--json", cwd=runs).stdout)
    assert as_json["model"] == "logistic" and as_json["step"] == 30
    assert len(as_json["per_class"]) == 10 and as_json["total"] == 1000
    weights = runs / "logistic" / "checkpoints" / "step-0000030" / "model.safetensors"
    alone = json.loads(convgrad("eval", weights, "--json", cwd=runs).stdout)
    assert alone["accuracy"] == as_json["accuracy"]
    train_split = json.loads(convgrad("eval", "logistic", "--split", "train", "--json",
                                      cwd=runs).stdout)
    assert train_split["total"] == 4000


def test_eval_bad_input_is_one_line(runs, tmp_path):
    def check(*args, fragments):
        process = convgrad("eval", *args, cwd=tmp_path)
        assert_one_line_error(process, *fragments)
        assert process.returncode == 2

    check("missing", fragments=["missing: no such file or folder"])
    (tmp_path / "garbage.safetensors").write_bytes(b"\x07" * 300)
    check("garbage.safetensors", fragments=["not a safetensors file, or truncated"])
    (tmp_path / "notes").mkdir()
    check("notes", fragments=["not a checkpoint or a run folder"])
    # truncated weights, then a checkpoint whose metadata is cut short
    shutil.copytree(runs / "mlp", tmp_path / "mlp")
    step = tmp_path / "mlp" / "checkpoints" / "step-0000030"
    weights = (step / "model.safetensors").read_bytes()
    (step / "model.safetensors").write_bytes(weights[:-10])
    check("mlp", fragments=["model.safetensors:", "(truncated or overwritten)"])
    (step / "model.safetensors").write_bytes(weights)
    meta = (step / "meta.json").read_text()
    (step / "meta.json").write_text(meta[:len(meta) // 2])
    check("mlp", fragments=["meta.json: not valid JSON"])
    # a checkpoint from another model
    (step / "meta.json").write_text(meta)
    check("mlp", "--model", "cnn", fragments=["a checkpoint of model 'mlp', not 'cnn'"])
    check("mlp", "--model", "nope", fragments=["unknown model 'nope'"])
    (step / "meta.json").write_text(meta.replace('"model": "mlp"', '"model": "cnn"'))
    check("mlp", fragments=["its weights do not fit model cnn", "from another model?"])
    # a weights file written elsewhere, without convgrad's metadata
    from safetensors.numpy import load_file, save_file
    save_file(load_file(str(step / "model.safetensors")), str(tmp_path / "foreign.safetensors"))
    check("foreign.safetensors", fragments=["does not say which model it holds"])
    check("foreign.safetensors", "--model", "cnn", fragments=["do not fit model cnn"])
    ok = convgrad("eval", "foreign.safetensors", "--model", "mlp", cwd=tmp_path)
    assert ok.returncode == 0 and "accuracy:" in ok.stdout


# ---------------------------------------------------------------------------- summary
def test_summary_of_a_model_and_the_list(tmp_path):
    process = convgrad("summary", "cnn", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    assert "ConvBase: input 1 × 40" in process.stdout and "5,210" in process.stdout
    listing = convgrad("summary", "--list", cwd=tmp_path).stdout.splitlines()
    assert listing[0].split()[:4] == ["model", "input", "data", "set"]
    names = [line.split()[0] for line in listing[1:]]
    assert names[:3] == ["logistic", "mlp", "cnn"] and "resnet20" in names
    assert "269,722" in next(line for line in listing if line.startswith("resnet20 "))
    record = json.loads(convgrad("summary", "mlp", "--json", cwd=tmp_path).stdout)
    assert record["total_params"] == 15210
    assert_one_line_error(convgrad("summary", "resnet21", cwd=tmp_path),
                          "resnet21: the cifar family has depths 6n + 2 with n ≥ 1")
    assert_one_line_error(convgrad("summary", "resnet2l", cwd=tmp_path),
                          "unknown model 'resnet2l' (did you mean", "models: logistic")


# ---------------------------------------------------------------------------- compare
def test_compare_prints_the_table_and_its_reading(tmp_path):
    process = convgrad("compare", "--steps", "60", "--eval-every", "30", "--quiet",
                       "--out", "cmp", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    lines = process.stdout.strip().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model"))
    table = lines[header:header + 5]
    assert table[2].split()[:3] == ["logistic", "regression", "410"]
    assert table[3].split()[:2] == ["MLP", "15,210"] and table[3].split()[3] == "68%"
    assert table[4].split()[:2] == ["CNN", "5,210"] and table[4].split()[3] == "94%"
    assert "shift invariance" in process.stdout and "a third of the MLP's" in process.stdout
    for model in ("logistic", "mlp", "cnn"):
        summary = json.loads((tmp_path / "cmp" / model / "summary.json").read_text())
        assert summary["steps"] == 60
    assert_one_line_error(convgrad("compare", "--out", "cmp", cwd=tmp_path),
                          "--out cmp: already holds the runs of a comparison")
    assert_one_line_error(convgrad("compare", "--models", "mlp,foo", cwd=tmp_path),
                          "unknown model 'foo'")
    assert_one_line_error(convgrad("compare", "--lr", "0", cwd=tmp_path),
                          "--lr must be greater than 0")


# ---------------------------------------------------------------------------- tampering
def _files(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


TAMPERED = [
    ("step", 999, "step 999 is past the run's last step (total_steps 300)"),
    ("step", -5, "step must be an integer ≥ 0, got -5"),
    ("files", None, "incomplete: no 'files' (the list of its files and their checksums"),
    ("config", None, "incomplete: no 'config'"),
    ("lr", 0.02, "saved with another recipe than its run folder's (lr 0.01 in config.json, "
                 "in its meta.json 0.02)"),
]


def test_a_tampered_meta_json_is_refused_and_nothing_is_overwritten(tmp_path):
    process = convgrad("train", "--model", "logistic", "--steps", "300", "--eval-every", "100",
                       "--checkpoint-every", "100", "--keep-checkpoints", "3", "--quiet",
                       "--out", "run", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    meta_path = tmp_path / "run" / "checkpoints" / "step-0000300" / "meta.json"
    original = meta_path.read_text()
    for key, value, fragment in TAMPERED:
        meta = json.loads(original)
        if value is None:
            del meta[key]
        elif key == "lr":
            meta["config"]["lr"] = value
        else:
            meta[key] = value
        meta_path.write_text(json.dumps(meta))
        before = _files(tmp_path / "run")
        for command in (["train", "--resume", "run"], ["eval", "run"]):
            failed = convgrad(*command, cwd=tmp_path)
            assert_one_line_error(failed, "step-0000300/meta.json: ", fragment)
            assert failed.returncode == 2
        assert _files(tmp_path / "run") == before, key
    meta_path.write_text(original)
    again = convgrad("train", "--resume", "run", cwd=tmp_path)
    assert again.returncode == 0 and "already finished (300 steps)" in again.stdout


# ---------------------------------------------------------------------------- divergence
DIVERGING = ["train", "--optimizer", "sgd", "--lr", "1e6", "--steps", "30", "--eval-every",
             "10", "--checkpoint-every", "1"]


def test_a_diverging_run_stops_at_the_first_non_finite_loss(tmp_path):
    process = convgrad(*DIVERGING, "--out", "run", cwd=tmp_path)
    assert_one_line_error(process, ": stopped without saving that step, the latest checkpoint "
                                   "is run/checkpoints/step-", "try --lr 100000",
                          "--allow-nonfinite")
    assert process.returncode == 1 and "Warning" not in process.stderr
    step = int(re.search(r"the training loss is (?:nan|inf|-inf) at step (\d+) "
                         r"\(lr 1e\+06\)", process.stderr).group(1))
    kept = load_checkpoint(tmp_path / "run")       # the step before: nothing of `step` saved
    assert kept.step == step - 1 < 30
    assert all(np.isfinite(array).all() for array in kept.model_state.values())
    assert not (tmp_path / "run" / "summary.json").exists()
    for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines():
        strict_json(line)
    # Resuming it diverges again at the same step, with the same line.
    again = convgrad("train", "--resume", "run", cwd=tmp_path)
    assert again.returncode == 1 and again.stderr == process.stderr


def test_allow_nonfinite_trains_on_and_writes_strict_json(tmp_path):
    process = convgrad(*DIVERGING, "--allow-nonfinite", "--json", "--out", "run", cwd=tmp_path)
    assert process.returncode == 0 and process.stderr == ""
    record = strict_json(process.stdout)
    assert record["steps"] == 30 and record["test_loss"] is None
    run = tmp_path / "run"
    assert strict_json((run / "summary.json").read_text())["test_loss"] is None
    rows = [strict_json(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["train_loss"] is None and rows[-1]["step"] == 30
    assert (run / "metrics.csv").read_text().splitlines()[-1].split(",")[3] == "nan"
    for meta in (run / "checkpoints").glob("step-*/meta.json"):
        assert strict_json(meta.read_text())["window"]["loss_sum"] in (0.0, "nan")
    evaluated = convgrad("eval", "run", "--json", cwd=tmp_path)
    assert evaluated.returncode == 0 and evaluated.stderr == ""
    assert strict_json(evaluated.stdout)["loss"] is None


def test_absurd_losses_are_printed_with_an_exponent(tmp_path):
    # Adam at lr 1e6: its normalised steps keep the loss finite, around 4e28.
    process = convgrad("train", "--lr", "1e6", "--steps", "20", "--eval-every", "10",
                       "--out", "run", cwd=tmp_path)
    assert process.returncode == 0 and process.stderr == ""      # no RuntimeWarning
    lines = [line for line in process.stdout.splitlines() if line.startswith("step 20")]
    assert re.search(r"train loss \d\.\d{3}e\+\d\d acc", lines[0]), lines
    assert not re.search(r"\d{10}", process.stdout)


# ---------------------------------------------------------------------------- empty data
def _mnist_folder(folder, train: int, test: int):
    """MNIST's four IDX files with ``train`` and ``test`` random images."""
    import struct

    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (train, 28, 28), np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, train, np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (test, 28, 28), np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, test, np.uint8)}
    folder.mkdir()
    for name, array in arrays.items():
        header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
        (folder / name).write_bytes(header + array.tobytes())


def test_an_empty_split_is_refused_in_one_line(tmp_path):
    _mnist_folder(tmp_path / "empty", train=20, test=0)
    _mnist_folder(tmp_path / "full", train=20, test=4)
    train = ["train", "--dataset", "mnist", "--batch-size", "10", "--steps", "2", "--quiet"]
    process = convgrad(*train, "--data-dir", "empty", "--out", "run", cwd=tmp_path)
    assert_one_line_error(process, "empty: the mnist test split is empty (0 samples): nothing "
                                   "to evaluate on")
    assert not (tmp_path / "run").exists()
    finished = convgrad(*train, "--data-dir", "full", "--out", "run", cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert strict_json((tmp_path / "run" / "summary.json").read_text())["test_accuracy"] >= 0
    assert_one_line_error(convgrad("eval", "run", "--data-dir", "empty", cwd=tmp_path),
                          "the mnist test split is empty")
    trained = convgrad("eval", "run", "--data-dir", "empty", "--split", "train", "--json",
                       cwd=tmp_path)
    assert strict_json(trained.stdout)["total"] == 20


# ---------------------------------------------------------------------------- metrics file
def test_a_damaged_metrics_line_is_reported_on_resume(tmp_path):
    from test_train_support import cli_env, rows_without_timing

    args = ["train", "--model", "logistic", "--steps", "60", "--eval-every", "10",
            "--checkpoint-every", "10", "--quiet"]
    reference = convgrad(*args, "--out", "reference", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr
    killed = convgrad(*args, "--out", "run", cwd=tmp_path,
                      env=cli_env(CONVGRAD_CRASH_AT="checkpoint-begin@50"))
    assert killed.returncode == -9
    metrics = tmp_path / "run" / "metrics.jsonl"
    lines = metrics.read_text().splitlines(keepends=True)
    assert [json.loads(line)["step"] for line in lines] == [0, 10, 20, 30, 40, 50]
    lines[2] = '{"step": 20, "epoch": 0.5, "lr": 0.0\x00\x00\x00\n'       # a damaged row
    metrics.write_text("".join(lines))
    resumed = convgrad("train", "--resume", "run", cwd=tmp_path)
    assert resumed.returncode == 0
    assert resumed.stderr == ("convgrad train: warning: run/metrics.jsonl: 1 damaged line "
                              "dropped (line 3, the first after the row of step 10): 1 metrics "
                              "row lost, the rows around kept\n")
    expected = [row for row in rows_without_timing(tmp_path / "reference") if row["step"] != 20]
    assert rows_without_timing(tmp_path / "run") == expected


# ---------------------------------------------------------------------------- best
def test_the_best_checkpoint_is_kept_and_evaluated(tmp_path):
    process = convgrad("train", "--model", "mlp", "--steps", "300", "--eval-every", "20",
                       "--checkpoint-every", "100", "--keep-checkpoints", "1", "--out", "run",
                       cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    best_step = summary["best_step"]
    rows = [json.loads(line) for line in
            (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert summary["best_test_accuracy"] == max(r["test_acc"] for r in rows) > \
        summary["test_accuracy"]                          # this run's best is not its last
    assert summary["best_checkpoint"] == f"run/checkpoints/best/step-{best_step:07d}"
    assert f"at step {best_step} (checkpoint: run/checkpoints/best/step-" in process.stdout
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == \
        ["best", "latest.json", "step-0000300"]           # the last N, and the best besides

    def evaluated(*options):
        process = convgrad("eval", "run", *options, "--json", cwd=tmp_path)
        assert process.returncode == 0, process.stderr
        return json.loads(process.stdout)

    best = evaluated("--checkpoint", "best")
    assert (best["step"], best["accuracy"]) == (best_step, summary["best_test_accuracy"])
    assert evaluated("--checkpoint", str(best_step)) == best
    assert evaluated() == evaluated("--checkpoint", "last")
    assert evaluated()["accuracy"] == summary["test_accuracy"]
    assert json.loads(convgrad("eval", "run/checkpoints/best", "--json", cwd=tmp_path).stdout
                      )["step"] == best_step
    assert_one_line_error(convgrad("eval", "run", "--checkpoint", "150", cwd=tmp_path),
                          f"run: no checkpoint of step 150 (kept: 300; best: {best_step})")
    assert_one_line_error(convgrad("eval", "run", "--checkpoint", "first", cwd=tmp_path),
                          "a checkpoint is last, best or a step number, got 'first'")
    assert_one_line_error(convgrad("eval", "run/checkpoints/step-0000300", "--checkpoint",
                                   "best", cwd=tmp_path),
                          "picks one of a run folder's checkpoints")


# ---------------------------------------------------------------------------- a model's own
def _cifar_folder(folder, train_per_batch: int, test: int):
    """CIFAR-10's six binary batch files of random images: one label byte + 3072 pixels."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    for name, count in [(f"data_batch_{i}.bin", train_per_batch) for i in range(1, 6)] + \
            [("test_batch.bin", test)]:
        records = rng.integers(0, 256, (count, 3073), np.uint8)
        records[:, 0] = rng.integers(0, 10, count)
        (folder / name).write_bytes(records.tobytes())


def test_a_model_alone_trains_on_its_own_data_set_with_its_recipe(tmp_path):
    _cifar_folder(tmp_path / "cifar", train_per_batch=30, test=20)
    process = convgrad("train", "--model", "resnet20", "--data-dir", "cifar", "--steps", "2",
                       "--eval-every", "0", "--out", "run", cwd=tmp_path, timeout=300)
    assert process.returncode == 0, process.stderr
    lines = process.stdout.splitlines()
    assert lines[0] == ("resnet20 is a cifar10 model: training on cifar10; options not given "
                        "follow He et al. 2016's CIFAR ResNet recipe: SGD, momentum 0.9, "
                        "weight decay 1e-4, lr 0.1 divided by 10 at 50% and 75% of the steps, "
                        "batch 128, random crop and flip.")
    assert lines[1] == ("training resnet20 on cifar10 (150 train / 20 test samples) in run/  "
                        "sgd, lr 0.1, momentum 0.9, weight decay 0.0001, multistep schedule, "
                        "batch 128, 2 steps, augmented, seed 0")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["dataset"], config["optimizer"], config["momentum"], config["schedule"],
            config["batch_size"], config["augment"]) == ("cifar10", "sgd", 0.9, "multistep",
                                                          128, True)
    # Without the files: the data set is named, not a shape mismatch.
    assert_one_line_error(convgrad("train", "--model", "resnet20", "--data-dir", "nowhere",
                                   cwd=tmp_path), "nowhere: CIFAR-10 binary files not found")
