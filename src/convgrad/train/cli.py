"""``convgrad train``, ``eval``, ``compare`` and ``summary``.

    convgrad train                         the MNIST-1D paper's CNN with the paper's recipe
    convgrad train --model mlp --steps 2000 --out runs/mlp
    convgrad train --resume runs/mlp       continue a stopped or killed run
    convgrad eval runs/mlp                 accuracy, per-class accuracy, confusion matrix
    convgrad compare                       logistic vs MLP vs CNN beside the paper's figures
    convgrad summary cnn                   layers, shapes, parameters, mult-adds

Anything the user can fix (a bad option, a missing folder, a corrupt checkpoint) is raised
as ``UsageError``: one line on stderr, exit status 2, no traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import datetime
from pathlib import Path

from .._memory import keep_freed_memory
from ..errors import (UsageError, comma_separated_ints, one_line, one_line_errors,
                      user_errors)
from ..extras import RUN_PACKAGES, require_installed
from ..data.errors import DataError
from ..models import FAMILIES, MODELS
from .atomic import json_text
from .checkpoint import (CHECKPOINTS, CheckpointError, load_checkpoint, load_model_weights,
                         run_folder_of, select_checkpoint)
from .config import (BACKENDS, DEFAULT_STEPS, DEVICES, OPTIMIZERS, RECIPES, SCHEDULES,
                     ConfigError, TrainConfig, model_name)
from .faults import crash_hook_from_environment
from .recipes import RESNET, describe_choices
from .runfolder import (RELOCATABLE, RunError, check_against_run_config, check_new_run_dir,
                        default_run_dir, saved_config)
from .team import ALONE, Team, TeamError, started_by_torchrun

RUNS_ROOT = Path("runs")


# ---------------------------------------------------------------------------- train
def _add_recipe_options(parser: argparse.ArgumentParser, full: bool = True) -> None:
    """Options of the training recipe; every default is None so that the options given
    explicitly can be told apart (``--resume`` checks them against the saved config).
    ``full=False`` leaves out what ``compare`` fixes (model, data set, schedule...)."""
    d, r = TrainConfig(), RESNET.values
    group = parser.add_argument_group(
        "recipe (default: the MNIST-1D paper's; after a ';', the CIFAR ResNets' (He et al. "
        "2016) where it differs)")
    add = group.add_argument
    if full:
        add("--model", metavar="MODEL",
            help=f"registry model (default: {d.model}, or the usual model of --dataset); see "
                 f"convgrad summary --list")
        add("--dataset", metavar="NAME",
            help="mnist1d, digits, mnist, fashion-mnist, cifar10 (default: the model's own)")
        add("--data-dir", metavar="DIR",
            help="folder of the data set's files (default: convgrad's cache folder)")
        add("--download", action="store_true", default=None,
            help="fetch MNIST / Fashion-MNIST / CIFAR-10 if missing")
    add("--optimizer", choices=OPTIMIZERS,
        help=f"default: {d.optimizer}; {r['optimizer']} (another optimizer takes the paper's "
             f"lr, momentum and weight decay)")
    add("--lr", metavar="X", type=float,
        help=f"learning rate (default: {d.lr:g}; {r['lr']:g})")
    if full:
        add("--momentum", metavar="X", type=float,
            help=f"SGD momentum (default: 0; {r['momentum']:g})")
    add("--weight-decay", metavar="X", type=float, help=f"default: 0; {r['weight_decay']:g}")
    if full:
        add("--schedule", choices=SCHEDULES,
            help=f"learning-rate schedule, stepped every step (default: constant; "
                 f"{r['schedule']})")
        add("--warmup-steps", metavar="N", type=int, help="linear warm-up steps (default: 0)")
        add("--step-size", metavar="N", type=int,
            help="'step' schedule: decay every N steps (default: a third of the run)")
        add("--milestones", metavar="STEPS", type=comma_separated_ints("step numbers"),
            help="'multistep' schedule: steps to decay at, e.g. 3000,4500 (default: 50%% and "
                 "75%% of the steps after the warm-up)")
        add("--gamma", metavar="X", type=float, help="decay factor (default: 0.1)")
    add("--batch-size", metavar="N", type=int,
        help=f"default: {d.batch_size}; {r['batch_size']}")
    add("--steps", metavar="N", type=int, help=f"optimizer steps (default: {DEFAULT_STEPS})")
    if full:
        add("--epochs", metavar="N", type=int,
            help="passes over the training set (instead of --steps)")
    add("--seed", metavar="N", type=int, help=f"default: {d.seed}")
    if full:
        add("--augment", action=argparse.BooleanOptionalAction, default=None,
            help="random crop (and flip where it keeps the label) for image data sets "
                 "(default: no; yes)")
        add("--shuffle-positions", action="store_true", default=None,
            help="reorder every sample's positions by one fixed permutation drawn from the "
                 "seed, train and test alike (the MNIST-1D paper's test of locality)")
        add("--normalize", action=argparse.BooleanOptionalAction, default=None,
            help="normalise each input channel by the training set's mean and standard "
                 "deviation (default: no)")
        add("--recipe", choices=RECIPES,
            help="a published recipe: he2016, He et al.'s for the CIFAR ResNets (SGD lr 0.1, "
                 "momentum 0.9, weight decay 1e-4, batch 128, lr /10 at 32k and 48k steps, "
                 "64k steps, crop and flip, per-channel normalisation); the options given "
                 "still win")
    add("--eval-every", metavar="N", type=int,
        help=f"steps between test evaluations (default: {d.eval_every}; 0: at the end only)")
    add("--eval-samples", metavar="N", type=int,
        help="evaluate periodically on the first N test samples (default: all; the final "
             "accuracy always uses all)")
    add("--eval-batch-size", type=int, help=argparse.SUPPRESS)
    add("--checkpoint-every", metavar="N", type=int,
        help=f"steps between checkpoints (default: {d.checkpoint_every}; 0: at the end only)")
    add("--keep-checkpoints", metavar="N", type=int,
        help=f"checkpoints kept (default: {d.keep_checkpoints})")


_OPTION_FIELDS = [f.name for f in dataclasses.fields(TrainConfig) if f.name != "extra"]


def _given(args) -> dict:
    """The recipe options given on the command line."""
    return {name: getattr(args, name) for name in _OPTION_FIELDS
            if getattr(args, name, None) is not None}


def config_from_args(args) -> TrainConfig:
    return TrainConfig(**_given(args))


def _newest_run(root: Path) -> Path | None:
    if not root.is_dir():
        return None
    runs = []
    for child in root.iterdir():
        for marker in (child / "checkpoints" / "latest.json", child / "config.json"):
            if marker.is_file():
                runs.append((marker.stat().st_mtime, child))
                break
    return max(runs)[1] if runs else None


def _resumed_config(run_dir: Path, args) -> TrainConfig:
    """The saved config of the run in ``run_dir``; options given with ``--resume`` must
    agree with it (after normalisation: aliases, case, order), except where the data is."""
    config = saved_config(run_dir)
    given = _given(args)
    for name, value in given.items():
        if name in RELOCATABLE:
            continue
        if name in ("steps", "epochs"):
            # Only one of the two is set in a config; the default run has neither.
            checked = TrainConfig(**{name: value})
            mine = getattr(checked, name)
            saved = getattr(config, name)
            if name == "steps" and config.steps is None and config.epochs is None:
                saved = DEFAULT_STEPS
        else:
            mine = getattr(dataclasses.replace(config, **{name: value}), name)
            saved = getattr(config, name)
        if mine != saved:
            option = "--" + name.replace("_", "-")
            shown = ",".join(map(str, saved)) if isinstance(saved, list) else saved
            was = f"{option} {shown}" if saved is not None else f"no {option}"
            raise ConfigError(f"{option} {value} differs from the run being resumed "
                              f"({was}); a resumed run keeps its recipe — start a new run "
                              f"to change it")
    relocated = {name: given[name] for name in RELOCATABLE if name in given}
    if relocated.get("backend") == "numpy":     # back to one process on the CPU
        relocated.setdefault("device", "auto")
        relocated.setdefault("nproc", 1)
    return dataclasses.replace(config, **relocated)


@user_errors(ConfigError, RunError, CheckpointError, DataError)
def run_train(args) -> int:
    require_installed(RUN_PACKAGES)
    if started_by_torchrun():
        return _train_in_team(args)
    config, run_dir = _run_plan(args)
    if config.nproc > 1:
        return _launch(args, config, run_dir)
    return _train(args, config, run_dir)


def _run_plan(args) -> tuple[TrainConfig, Path]:
    """The run the command line asks for: its config and its folder."""
    if args.resume is not None:
        if args.resume is True:   # --resume without a folder
            run_dir = Path(args.out) if args.out else _newest_run(RUNS_ROOT)
            if run_dir is None:
                raise RunError(f"--resume: no run under {RUNS_ROOT}/ to resume; name its "
                               f"folder: --resume RUN_DIR")
        else:
            if args.out and Path(args.out) != Path(args.resume):
                raise ConfigError("--resume RUN_DIR continues the run in RUN_DIR; --out "
                                  "cannot move it elsewhere")
            run_dir = Path(args.resume)
        return _resumed_config(run_dir, args), run_dir
    config = config_from_args(args)
    return config, Path(args.out) if args.out else default_run_dir(config, RUNS_ROOT)


def _train(args, config: TrainConfig, run_dir: Path, team: Team = ALONE) -> int:
    """Train the run in this process (one of a team's, or alone) and report it."""
    from .loop import Trainer

    quiet = args.quiet or args.json    # stdout must hold nothing but the JSON
    choices = None if args.resume is not None else \
        describe_choices(_given(args), config.model, config.dataset, config.recipe)
    progress = None if quiet else _download_progress
    with keep_freed_memory():   # malloc keeps each step's big arrays mapped (_memory.py)
        result = Trainer(config, run_dir, resume=args.resume is not None, quiet=quiet,
                         download_progress=progress, allow_nonfinite=args.allow_nonfinite,
                         note=choices, write_hook=crash_hook_from_environment(),
                         team=team).run()
    diverged = result.diverged
    if team.writes:
        if args.json:
            from .loop import summary_record
            record = summary_record(result, config.dataset)
            record.update(run_dir=str(result.run_dir), interrupted=result.interrupted,
                          diverged=None if diverged is None else {
                              "step": diverged.step, "loss": str(diverged.loss),
                              "lr": diverged.lr})
            print(json_text(record, sort_keys=False))
        else:
            print(format_result(result))
    if result.interrupted:
        if team.writes:
            print(f"convgrad train: interrupted at step {result.steps}; checkpoint saved; "
                  f"continue with: convgrad train --resume {result.run_dir}", file=sys.stderr)
        return 130
    if diverged is not None:
        if team.writes:
            print(f"convgrad train: {divergence_line(result)}", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------- processes
def _launch(args, config: TrainConfig, run_dir: Path) -> int:
    """``--nproc N``: this command again in N processes on this machine, started by
    torchrun's elastic launcher; each then runs ``_train_in_team``."""
    from .loop import backend_class

    backend_class(config)             # PyTorch and the device, checked before they start
    if args.resume is None:
        check_new_run_dir(run_dir)
    from .torch_backend.launch import launch

    where = ["--resume" if args.resume is not None else "--out", str(run_dir)]
    flags = [f"--{name.replace('_', '-')}" for name in ("quiet", "json", "allow_nonfinite")
             if getattr(args, name)]
    return launch(["train", *_as_options(_given(args)), *where, *flags], config.nproc,
                  run_dir)


def _as_options(given: dict) -> list[str]:
    """The command-line options that give ``given`` (``_given``'s result) again."""
    options = []
    for name, value in given.items():
        option = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            options.append(option if value else f"--no-{option[2:]}")
        elif isinstance(value, list):
            options.append(f"{option}={','.join(map(str, value))}")
        else:
            options.append(f"{option}={value}")
    return options


def _train_in_team(args) -> int:
    """One of the processes torchrun started (by ``--nproc``, or by the user on one or
    several machines): process 0 plans the run, every process trains its share."""
    from .torch_backend.team import join_team

    team, run_dir = None, None
    try:
        team = join_team()
        plan = _shared_plan(args, team)
        if plan is None:
            return 2                  # process 0 could not start the run, and said why
        config, run_dir = plan
        return _train(args, config, run_dir, team)
    except TeamError as error:
        who = "" if team is None or team.writes else f"process {team.rank} of {team.size}: "
        resume = "" if run_dir is None else f"; continue it from its latest checkpoint " \
                                            f"with: convgrad train --resume {run_dir}"
        print(f"convgrad train: error: {who}{error}; the run stopped{resume}",
              file=sys.stderr)
        return 1
    finally:
        if team is not None:
            team.close()


def _shared_plan(args, team: Team) -> tuple[TrainConfig, Path] | None:
    """Process 0 plans the run from its command line and shares the plan; the others take
    it (their machines may not have the run folder).  None: process 0 failed."""
    if not team.writes:
        shared = team.share(None)
        if not shared:
            return None
        plan = json.loads(shared)
        return TrainConfig.from_dict(plan["config"]), Path(plan["run_dir"])
    try:
        config, run_dir = _run_plan(args)
        if args.nproc is not None and args.nproc != team.size:
            raise ConfigError(f"--nproc {args.nproc}, but torchrun started {team.size} "
                              f"processes (WORLD_SIZE)")
        if config.backend != "torch":
            raise ConfigError("processes started by torchrun train with --backend torch")
        config = dataclasses.replace(config, nproc=team.size)
    except BaseException:
        team.share(b"")
        raise
    team.share(json_text({"config": config.to_dict(), "run_dir": str(run_dir)}).encode())
    return config, run_dir


def divergence_line(result) -> str:
    """One line: where the loss stopped being finite, what was kept, what to try."""
    d = result.diverged
    kept = f"the latest checkpoint is {result.checkpoint}/" if result.checkpoint else \
        "there is no checkpoint before it"
    return (f"the training loss is {d.loss} at step {d.step} (lr {d.lr:g}): stopped without "
            f"saving that step, {kept}; the learning rate is likely too high for this model "
            f"(try --lr {d.lr / 10:g}), or pass --allow-nonfinite to train on")


def _download_progress(url: str, received: int, total: int | None) -> None:
    if total:
        print(f"\rdownloading {url}: {received / total:.0%}", end="", file=sys.stderr,
              flush=True)
        if received >= total:
            print(file=sys.stderr)


def format_result(result) -> str:
    """The closing summary of ``convgrad train``; its last line is the test accuracy."""
    lines = []
    name = f"{result.config.model} on {result.config.dataset}"
    if result.already_finished:
        lines.append(f"{name}: the run already finished ({result.steps} steps); nothing to do")
    else:
        per_step = result.time_per_step_s
        timing = f" ({1e3 * per_step:.2f} ms/step)" if per_step is not None else ""
        lines.append(f"{name}: {result.steps}/{result.total_steps} steps, "
                     f"{result.parameters:,} parameters, training time "
                     f"{result.train_time_s:.1f} s{timing}, wall time "
                     f"{result.wall_time_s:.1f} s")
    if result.best_test_accuracy is not None:
        kept = f" (checkpoint: {result.best_checkpoint}/)" if result.best_checkpoint else ""
        lines.append(f"best test accuracy: {result.best_test_accuracy:.2%} at step "
                     f"{result.best_step}{kept}")
    files = [f for f in ("metrics.jsonl", "metrics.csv", "curves.png", "summary.json")
             if (result.run_dir / f).exists()]
    lines.append(f"run folder: {result.run_dir}/  ({', '.join(files)})")
    if result.checkpoint is not None:
        lines.append(f"checkpoint: {result.checkpoint}/")
    if result.test_accuracy is not None:
        lines.append(f"test accuracy: {result.test_accuracy:.2%}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- eval
@user_errors(ConfigError, RunError, CheckpointError, DataError)
def run_eval(args) -> int:
    from ..data import load_dataset, shuffle_positions
    from .evaluate import evaluate, format_evaluation
    from .setup import build_model, check_not_empty, normalized

    require_installed(("safetensors",))
    path = args.path
    if args.checkpoint is not None:
        if not Path(path, CHECKPOINTS).is_dir():
            raise CheckpointError(f"{path}: --checkpoint {args.checkpoint} picks one of a run "
                                  f"folder's checkpoints, and this is not a run folder")
        path = select_checkpoint(path, args.checkpoint)
    checkpoint = load_checkpoint(path, with_optimizer=False)
    meta = checkpoint.meta
    saved_model = meta.get("model")
    if args.model is not None:
        wanted = model_name(args.model)
        if saved_model is not None and saved_model != wanted:
            raise CheckpointError(f"{checkpoint.path}: a checkpoint of model {saved_model!r}, "
                                  f"not {wanted!r}")
        saved_model = wanted
    if saved_model is None:
        raise CheckpointError(f"{checkpoint.path}: does not say which model it holds; name "
                              f"it with --model")
    if saved_model not in MODELS:
        raise CheckpointError(f"{checkpoint.path}: a checkpoint of model {saved_model!r}, "
                              f"which this convgrad does not know")
    config = meta.get("config") or {}
    dataset_name = args.dataset or meta.get("dataset") or MODELS[saved_model].dataset
    data_dir = args.data_dir if args.data_dir is not None else config.get("data_dir")
    data = load_dataset(dataset_name, root=data_dir)
    if config.get("shuffle_positions"):      # trained on shuffled positions: evaluated alike
        data = shuffle_positions(data, int(config.get("seed", 0)))
    if config.get("normalize"):              # as the run saw its inputs
        data = normalized(data)
    model = build_model(saved_model, data.num_classes)
    load_model_weights(model, checkpoint, saved_model)
    run_dir = run_folder_of(checkpoint.path)
    if run_dir is not None:
        check_against_run_config(run_dir, checkpoint)
    if tuple(MODELS[saved_model].input_shape) != data.input_shape:
        raise ConfigError(f"model {saved_model} takes inputs of shape "
                          f"{tuple(MODELS[saved_model].input_shape)}, {data.name} samples are "
                          f"{data.input_shape}")
    check_not_empty(data, (args.split,))
    x, y = (data.test_x, data.test_y) if args.split == "test" else (data.train_x, data.train_y)
    result = evaluate(model, x, y, data.classes, args.batch_size)
    step = f" at step {checkpoint.step}" if "step" in meta else ""
    title = (f"{saved_model}{step} on the {data.name} {args.split} set ({len(y)} samples); "
             f"checkpoint {checkpoint.path}")
    if args.json:
        record = result.to_dict()
        record.update(model=saved_model, dataset=data.name, split=args.split,
                      checkpoint=str(checkpoint.path), step=meta.get("step"))
        print(json_text(record, sort_keys=False))
    else:
        print(format_evaluation(result, title))
    return 0


# ---------------------------------------------------------------------------- compare
@user_errors(ConfigError, RunError, CheckpointError, DataError)
def run_compare(args) -> int:
    from .compare import COMPARE_MODELS, format_table, reading, run_comparison

    require_installed(RUN_PACKAGES)
    models = [model_name(m) for m in args.models.split(",") if m.strip()] \
        if args.models else list(COMPARE_MODELS)
    given = _given(args)
    base = TrainConfig(**given)
    for name in models:
        dataclasses.replace(base, model=name)   # fail before any training
    out = Path(args.out) if args.out else \
        RUNS_ROOT / f"compare-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    for name in models:
        try:
            check_new_run_dir(out / name)
        except RunError:
            raise RunError(f"--out {out}: already holds the runs of a comparison; choose "
                           f"another --out") from None
    steps = base.steps or DEFAULT_STEPS
    quiet = args.quiet or args.json    # stdout must hold nothing but the JSON
    if not quiet:
        shuffled = " with its positions shuffled" if base.shuffle_positions else ""
        print(f"training {', '.join(models)} on {base.dataset}{shuffled}: {base.optimizer}, lr "
              f"{base.lr:g}, batch {base.batch_size}, {steps} steps, seed {base.seed}; runs in "
              f"{out}/", flush=True)

    def announce(row):
        if not quiet:
            print(f"  {row.model}: test accuracy {row.test_accuracy:.1%} "
                  f"({row.train_time_s:.1f} s)", flush=True)

    with keep_freed_memory():   # malloc keeps each step's big arrays mapped (_memory.py)
        rows = run_comparison(base, out, models, quiet=quiet, on_result=announce)
    if args.json:
        print(json_text({"rows": [r.to_dict() for r in rows], "reading": reading(rows),
                     "shuffled": base.shuffle_positions}, sort_keys=False))
        return 0
    print()
    print(format_table(rows))
    paragraph = reading(rows)
    if paragraph:
        print()
        print(_wrap(paragraph))
    return 0


def _wrap(text: str, width: int = 92) -> str:
    import textwrap
    return textwrap.fill(text, width)


# ---------------------------------------------------------------------------- summary
def model_list() -> str:
    from .setup import build_model

    rows = [("model", "input", "data set", "parameters", "description")]
    for name, spec in MODELS.items():
        params = sum(p.numel() for p in build_model(name).parameters())
        rows.append((name, "×".join(map(str, spec.input_shape)), spec.dataset,
                     f"{params:,}", spec.description))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    table = "\n".join("  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]),
                                 r[2].ljust(widths[2]), r[3].rjust(widths[3]), r[4]]).rstrip()
                      for r in rows)
    families = "; ".join(f"{f.residual.format(depth='D')} / {f.plain.format(depth='D')} "
                         f"({f.dataset}, D = {f.step}n + 2)" for f in FAMILIES.values())
    return f"{table}\nand any depth of a family, with shortcuts / without: {families}"


@user_errors(ConfigError, RunError, CheckpointError, DataError)
def run_summary(args) -> int:
    from .. import random as cg_random
    from ..summary import summary
    from .setup import build_model

    if args.list or args.model is None:
        print(model_list())
        return 0
    name = model_name(args.model)
    spec = MODELS[name]
    shape = tuple(spec.input_shape)
    cg_random.manual_seed(0)
    model = build_model(name)
    try:
        table = summary(model, shape)
    except Exception as error:  # a model that cannot run at this shape is a bug to report
        raise UsageError(f"summary of {name} at input {shape} failed: "
                         f"{type(error).__name__}: {one_line(str(error))}") from None
    if args.json:
        print(json_text(table.to_dict(), sort_keys=False))
    else:
        print(f"{name}: {spec.description}")
        print(table)
    return 0


# ---------------------------------------------------------------------------- parsers
def register(subparsers) -> None:
    train = one_line_errors(subparsers.add_parser(
        "train", help="train a model (default: the MNIST-1D paper's CNN and recipe)",
        description="Train a registry model on a data set, with periodic evaluation, "
                    "metrics (JSON lines, CSV), a plot of the curves and atomic "
                    "checkpoints. With no options: the MNIST-1D paper's CNN, Adam, lr 1e-2, "
                    "batch 100, 6000 steps."))
    _add_recipe_options(train)
    compute = train.add_argument_group(
        "where it computes (recorded in config.json; --resume may change it)")
    compute.add_argument("--backend", choices=BACKENDS,
                         help="numpy: convgrad's engine (the default); torch: PyTorch, for "
                              "GPUs and several processes (pip install 'convgrad[torch]')")
    compute.add_argument("--device", choices=DEVICES,
                         help="torch: auto (a GPU if PyTorch sees one; the default), cpu, "
                              "or cuda")
    compute.add_argument("--nproc", metavar="N", type=int,
                         help="torch: N data-parallel processes on this machine "
                              "(DistributedDataParallel, started by torchrun), each taking "
                              "batch-size/N samples of every batch; several machines: "
                              "torchrun ... -m convgrad.cli train (README, Scaling out)")
    run = train.add_argument_group("run")
    run.add_argument("--out", metavar="RUN_DIR",
                     help="run folder (default: runs/<model>-<dataset>-<time>)")
    run.add_argument("--resume", nargs="?", const=True, metavar="RUN_DIR",
                     help="continue a stopped or killed run (default: the newest under runs/)")
    run.add_argument("--quiet", action="store_true", help="no progress bar or per-evaluation "
                                                         "lines; just the summary")
    run.add_argument("--json", action="store_true", help="print the final summary as JSON")
    run.add_argument("--allow-nonfinite", action="store_true",
                     help="train on when the loss becomes NaN or infinite (by default the run "
                          "stops at the first such step, keeping its last good checkpoint)")
    train.set_defaults(func=run_train)

    evaluate = one_line_errors(subparsers.add_parser(
        "eval", help="evaluate a checkpoint: accuracy, per-class accuracy, confusion matrix",
        description="Evaluate a checkpoint (a run folder, a checkpoint folder or a "
                    "model.safetensors file) on its data set's test set."))
    evaluate.add_argument("path", metavar="CHECKPOINT_OR_RUN_DIR")
    evaluate.add_argument("--checkpoint", metavar="best|last|STEP",
                          help="which of a run folder's checkpoints: the best evaluation's, "
                               "the latest (the default), or a kept step")
    evaluate.add_argument("--split", choices=("test", "train"), default="test")
    evaluate.add_argument("--model", help="the model, for a weights file that does not say")
    evaluate.add_argument("--dataset", help="evaluate on another data set of the same shape")
    evaluate.add_argument("--data-dir", metavar="DIR", help="folder of the data set's files")
    evaluate.add_argument("--batch-size", metavar="N", type=_positive_int, default=1000)
    evaluate.add_argument("--json", action="store_true", help="print the results as JSON")
    evaluate.set_defaults(func=run_eval)

    compare = one_line_errors(subparsers.add_parser(
        "compare", help="logistic regression, MLP and CNN on MNIST-1D beside the paper",
        description="Train the MNIST-1D paper's logistic regression, MLP and CNN with the "
                    "same recipe and seed; print parameters, test accuracy and training time "
                    "beside the paper's figures (32%, 68%, 94%; with --shuffle, 32%, 68%, "
                    "56%)."))
    _add_recipe_options(compare, full=False)
    compare.add_argument("--shuffle", dest="shuffle_positions", action="store_true",
                         default=None,
                         help="the paper's shuffled row: every signal's positions reordered "
                              "by one fixed permutation drawn from --seed, train and test "
                              "alike (paper: 32%%, 68%%, 56%%)")
    compare.add_argument("--models", help="comma-separated (default: logistic,mlp,cnn)")
    compare.add_argument("--out", metavar="DIR",
                         help="folder for the runs (default: runs/compare-<time>)")
    compare.add_argument("--quiet", action="store_true")
    compare.add_argument("--json", action="store_true")
    compare.set_defaults(func=run_compare)

    summary = one_line_errors(subparsers.add_parser(
        "summary", help="a model's layers: output shapes, parameters, mult-adds",
        description="Print convgrad.summary for a registry model at its input shape."))
    summary.add_argument("model", nargs="?", metavar="MODEL")
    summary.add_argument("--list", action="store_true", help="list the registry's models")
    summary.add_argument("--json", action="store_true")
    summary.set_defaults(func=run_summary)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") \
            from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value
