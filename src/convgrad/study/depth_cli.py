"""``convgrad depth``: the degradation study, one command.

    convgrad depth                        plain and residual 1-D ResNets of depths 8, 14, 26,
                                          50 on MNIST-1D, 1200 steps each (minutes: see README)
    convgrad depth --quick                a smoke run: depths 8 and 14, 200 steps
    convgrad depth --family lenet         LeNet-like stacks on 8x8 digits
    convgrad depth --family cifar --depths 20,32 --steps 500 --data-dir DIR
    convgrad depth --resume runs/depth-resnet1d-...   continue an interrupted study

Prints a cost estimate, trains (a progress bar across the runs), then the table, the
figures' paths and a reading of the numbers; ``--json`` prints ``{"runs": [{"depth",
"residual", "parameters", "train_error", "test_error", "run"}], "plots": [...]}`` alone.
"""
from __future__ import annotations

import dataclasses
import sys
import textwrap
from pathlib import Path

from ..data.errors import DataError
from ..errors import UsageError, comma_separated_ints, one_line_errors, user_errors
from ..extras import RUN_PACKAGES, require_installed
from ..models import FAMILIES
from ..train.atomic import json_text, replace_json
from ..train.checkpoint import CheckpointError
from ..train.cli import RUNS_ROOT
from ..train.config import ConfigError
from ..train.runfolder import RunError

# Options that make the plan (refused with --resume: a resumed study keeps its own).
PLAN_OPTIONS = ("family", "depths", "quick", "dataset", "steps", "lr", "batch_size", "seed",
                "eval_every")


def _smoke_label(plan) -> str:
    return (f"SMOKE RUN (--quick): {plan.config.steps} steps, depths "
            f"{', '.join(map(str, plan.depths))} — it checks that the study runs, it is too "
            f"short to show degradation; run convgrad depth without --quick for the study")


def _announce(plan, study_dir, costs, out) -> None:
    from .cost import format_duration

    c = plan.config
    total = sum(cost.seconds for cost in costs)
    left = [cost for cost in costs if cost.steps_left]
    if plan.quick:
        print(_smoke_label(plan), file=out)
    milestones = c.milestones or [max(1, c.steps // 2), max(1, (3 * c.steps) // 4)]
    print(f"depth study: {plan.family} family on {c.dataset}, depths "
          f"{', '.join(map(str, plan.depths))}, plain and with shortcuts; {c.optimizer} lr "
          f"{c.lr:g}, momentum {c.momentum:g}, weight decay {c.weight_decay:g}, lr ÷10 at "
          f"steps {milestones[0]} and {milestones[1]}, batch {c.batch_size}, {c.steps} steps, "
          f"seed {c.seed}; in {study_dir}/", file=out)
    if not left:
        print("every run has finished already", file=out)
    else:
        print(f"estimated time: {format_duration(total)} for {len(left)} run(s) "
              f"(each network's step timed here just now; other work on the machine slows "
              f"it)", file=out, flush=True)


@user_errors(ConfigError, RunError, CheckpointError, DataError)
def run_depth(args) -> int:
    from .._memory import keep_freed_memory
    from ..train.setup import load_data
    from .cost import estimate
    from .depth import (StudyDiverged, StudyInterrupted, load_plan, make_plan, run_study,
                        save_plan, study_dir_default)

    require_installed(RUN_PACKAGES)
    if args.resume is not None:
        given = [name for name in PLAN_OPTIONS if getattr(args, name) not in (None, False)]
        if given or args.out:
            option = "--out" if args.out else "--" + given[0].replace("_", "-")
            raise UsageError(f"--resume continues the study in {args.resume} with its own plan "
                             f"(study.json); {option} cannot change it")
        study_dir = Path(args.resume)
        plan = load_plan(study_dir)
        if args.data_dir is not None:        # the data moved: where it is, not what it is
            plan = dataclasses.replace(plan, config=dataclasses.replace(
                plan.config, data_dir=args.data_dir))
    else:
        plan = make_plan(args.family or "resnet1d", args.depths, args.quick,
                         dataset=args.dataset, data_dir=args.data_dir,
                         download=args.download or None, steps=args.steps, lr=args.lr,
                         batch_size=args.batch_size, seed=args.seed,
                         eval_every=args.eval_every)
        study_dir = Path(args.out) if args.out else study_dir_default(plan.family, RUNS_ROOT)
    quiet = args.quiet or args.json          # stdout must hold nothing but the JSON
    data = load_data(plan.config)            # fails here, before any folder, if missing
    if args.resume is None:
        save_plan(plan, study_dir)
    costs = estimate(plan, study_dir, data)
    if not quiet:
        _announce(plan, study_dir, costs, sys.stdout)
    elif plan.quick:
        print(f"convgrad depth: {_smoke_label(plan)}", file=sys.stderr)
    try:
        # malloc keeps each step's big arrays mapped (_memory.py)
        with keep_freed_memory(), _Progress(costs, disable=quiet) as progress:
            run_study(plan, study_dir, quiet=quiet, on_start=progress.start,
                      on_finish=progress.finish)
    except StudyInterrupted as stop:
        print(f"convgrad depth: {stop}; checkpoint saved; continue with: convgrad depth "
              f"--resume {study_dir}", file=sys.stderr)
        return 130
    except StudyDiverged as failure:
        print(f"convgrad depth: {failure}", file=sys.stderr)
        return 1
    return _report(plan, study_dir, args.json)


def _report(plan, study_dir: Path, as_json: bool) -> int:
    from .depth_plots import gradient_norms_png, training_error_png
    from .depth_report import (GRADIENT_NORMS_FILE, RESULTS_FILE, TRAINING_ERROR_FILE,
                               collect, conclusion, format_table, json_record)

    outcomes = collect(plan, study_dir)
    c = plan.config
    title = (f"{'SMOKE RUN (--quick), ' if plan.quick else ''}{plan.family} on {c.dataset}, "
             f"{c.steps} steps, seed {c.seed}: plain dashed, ResNet solid")
    plots = [study_dir / TRAINING_ERROR_FILE, study_dir / GRADIENT_NORMS_FILE]
    training_error_png(outcomes, plots[0], title)
    gradient_norms_png(outcomes, plots[1], title)
    record = json_record(outcomes, plots)
    replace_json(study_dir / RESULTS_FILE, record)
    if as_json:
        print(json_text(record, sort_keys=False))
        return 0
    print()
    if plan.quick:
        print(_smoke_label(plan))
    print(format_table(outcomes))
    print()
    print(textwrap.fill(conclusion(outcomes), 92))
    print()
    print(f"figures: {plots[0]}  {plots[1]}")
    print(f"runs: {study_dir}/<model>/ (metrics.jsonl: training-set loss and accuracy, "
          f"gradient norms per layer at every evaluation)")
    return 0


class _Progress:
    """A bar across the study's runs, in estimated seconds (so its ETA means something);
    each run's own bar shows its steps below it.  Finished runs are announced on stdout."""

    def __init__(self, costs, disable: bool):
        self.costs = {cost.network: cost for cost in costs}
        self.disable = disable
        self.bar = None
        self.count = sum(1 for cost in costs if cost.steps_left)
        self.done = 0

    def __enter__(self):
        from tqdm import tqdm
        if not self.disable:
            bar = tqdm(total=round(sum(c.seconds for c in self.costs.values())),
                       unit="s", desc="depth study", file=sys.stderr, dynamic_ncols=True,
                       disable=None, bar_format="{desc}: {percentage:3.0f}%|{bar}| "
                                                "{postfix} [{elapsed}<{remaining}]")
            self.bar = None if bar.disable else bar
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()

    def start(self, network, run_dir) -> None:
        from .cost import steps_done

        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"run {self.done}/{self.count}: {network.model}")
        step = steps_done(run_dir)
        if step and not self.disable:
            self._say(f"  {network.model}: resuming from step {step}")

    def _say(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def finish(self, network, run_dir, trained: bool) -> None:
        if self.bar is not None:
            self.bar.update(round(self.costs[network].seconds))
        if not self.disable and trained:
            from .depth_report import read_outcome
            outcome = read_outcome(network, run_dir)
            self._say(f"  {network.model}: train error {outcome.train_error:.2%}, test error "
                      f"{outcome.test_error:.2%} ({outcome.train_time_s:.0f} s)")


def register(subparsers) -> None:
    parser = one_line_errors(subparsers.add_parser(
        "depth", help="the degradation study: plain vs residual networks of several depths",
        description="Train plain and residual networks of several depths with the same data, "
                    "recipe and seed (He et al. 2016, Fig. 1 and 6), each an ordinary run "
                    "folder; print the table (parameters, training and test error, time), "
                    "draw the training-error curves and the gradient norm of every layer. "
                    "Default: the 1-D ResNets and their plain twins at depths 8, 14, 26, 50 "
                    "on MNIST-1D; SGD lr 0.1, momentum 0.9, weight decay 1e-4, lr ÷10 at "
                    "50% and 75% of 1200 steps, batch 100, seed 0."))
    plan = parser.add_argument_group("the study")
    plan.add_argument("--family", metavar="NAME",
                      help=f"depth family: {', '.join(FAMILIES)} (default: resnet1d); "
                           f"resnet1d and cifar have depths 6n+2, lenet 4n+2")
    plan.add_argument("--depths", type=comma_separated_ints("depths", "8,14,26,50"),
                      metavar="D,D,...",
                      help="depths (default: the family's; resnet1d: 8,14,26,50)")
    plan.add_argument("--quick", action="store_true",
                      help="a smoke run (resnet1d: depths 8 and 14, 200 steps; under two "
                           "minutes): checks the study works, too short to show degradation")
    plan.add_argument("--dataset", metavar="NAME",
                      help="a data set of the family's input shape (default: its own)")
    plan.add_argument("--data-dir", metavar="DIR", help="folder of the data set's files")
    plan.add_argument("--download", action="store_true",
                      help="fetch CIFAR-10 (or MNIST) if missing")
    plan.add_argument("--steps", type=int, metavar="N", help="steps per run")
    plan.add_argument("--lr", type=float, metavar="X", help="learning rate (default: 0.1)")
    plan.add_argument("--batch-size", type=int, metavar="N")
    plan.add_argument("--seed", type=int, metavar="N", help="default: 0")
    plan.add_argument("--eval-every", type=int, metavar="N",
                      help="steps between evaluations: test set, whole training set, "
                           "gradient norms (default: 50)")
    run = parser.add_argument_group("run")
    run.add_argument("--out", metavar="DIR",
                     help="the study's folder (default: runs/depth-<family>-<time>)")
    run.add_argument("--resume", metavar="DIR", help="continue the study in DIR")
    run.add_argument("--quiet", action="store_true", help="no estimate, bars or run lines")
    run.add_argument("--json", action="store_true",
                     help='print {"runs": [...], "plots": [...]} only')
    parser.set_defaults(func=run_depth)
