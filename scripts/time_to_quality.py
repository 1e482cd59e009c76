"""Minutes of CPU training each variant needs to reach a stated classifier FD on mnist_5k.

    python scripts/time_to_quality.py                                # every variant, this checkout
    python scripts/time_to_quality.py --variants wgan_gp --checkout ../old --runs runs/ttq_old
    python scripts/time_to_quality.py --variants wgan_gp --runs runs/ttq_bf16 -- --mixed_precision=bfloat16

Each run is `VARIANT/train.py --dataset=mnist_5k --eval_every=50` at the variant's defaults
(the papers' settings, and any flags after `--`), run from --checkout (another checkout of this repository, to time
an older version with the same command). The script watches the run's metrics.csv and stops
the run at the first evaluation whose classifier FD is at or under the variant's target, or
at --max_steps. Training time is each logged interval's iterations over its own measured
rate (perf/steps_per_sec), summed: evaluations and start-up are not counted, tracing and
the first steps are. Run nothing else meanwhile, or the times are not comparable.
A run that reached its target (or --max_steps) is not run again with the same command and
checkout folder (each has its own folder under --runs, VARIANT-DIGEST; the digest knows the
folder's path, not its commit: after checking out another commit there, use another --runs).
Prints one JSON line per run and a table, and writes the rows as JSON (--json).
"""
import csv
import hashlib
import json
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import arguments  # noqa: E402
import variants  # noqa: E402
from figures.training_curves import curves  # noqa: E402  (training seconds from the logged rates)

TARGETS = {name: 100.0 if name == "wgan" else 50.0 for name in variants.NAMES}  # clipped WGAN: see README
LOG_EVERY = 10


def reached(rows, target):
    """(iteration, FD, training seconds) of the first evaluation at or under target, else None."""
    if not rows:
        return None
    curve = curves(rows)
    hits = np.flatnonzero(curve["evaluated"] & (curve["quality"] <= target))
    if not hits.size:
        return None
    first = hits[0]
    return int(curve["steps"][first]), float(curve["quality"][first]), float(curve["seconds"][first])


def read_rows(logdir):
    """The run's logged rows so far (a line still being written is left out); none from a file
    that is not a train.py metrics.csv (not text, or without its columns): that run is timed again."""
    try:
        header, rows = arguments.finished_csv_rows(logdir / "metrics.csv")
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError, csv.Error):
        return []
    if not set(COLUMNS) <= set(header or ()):
        return []
    return [row for row in rows if None not in row.values() and row["step"].isdigit()
            and all(is_number(row[key]) for key in COLUMNS[1:])]


COLUMNS = ("step", "perf/steps_per_sec", "loss/discriminator")  # what reached() reads of every row


def is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def run(variant, target, args):
    """Trains until the target (or --max_steps) and returns the run's row."""
    settings = [f"{variant}/train.py", "--dataset=mnist_5k", f"--train_steps={args.max_steps}",
                f"--eval_every={args.eval_every}", f"--log_every={LOG_EVERY}", f"--seed={args.seed}",
                f"--sample_every={args.max_steps}", f"--checkpoint_every={args.max_steps}", *args.train_flags]
    # One folder per command and checkout: a run made with other flags is never reported as this one.
    digest = hashlib.sha256("\0".join([str(args.checkout), *settings]).encode()).hexdigest()[:10]
    logdir = pathlib.Path(args.runs).resolve() / f"{variant}-{digest}"
    command = [sys.executable, *settings, f"--logdir={logdir}"]
    rows = read_rows(logdir)
    finished = reached(rows, target) or (rows and int(rows[-1]["step"]) >= args.max_steps)
    if not finished:
        if arguments.directory_in_use(logdir):  # the same command, timing in another process
            print(f"error: {logdir} is in use: another process is timing this command; let it finish or stop it",
                  file=sys.stderr)
            sys.exit(2)
        shutil.rmtree(logdir, ignore_errors=True)  # a part-timed run is timed again from the start
        # Its own process group: a signal to this script's group reaches the run once, from here;
        # and it ends with this script, should this script be killed outright.
        with subprocess.Popen(command, cwd=args.checkout, stdout=subprocess.DEVNULL,
                              **arguments.child_options()) as process:
            try:
                while process.poll() is None and not reached(read_rows(logdir), target):
                    time.sleep(2)
                ended = process.poll()
            finally:  # reached, or this script stopped: the run is a measurement, nothing in it is kept
                process.terminate()
                process.wait()
        if ended:  # it stopped by itself: a flag it refused, say, whose line it has printed
            sys.exit(ended)
    rows = read_rows(logdir)
    found = reached(rows, target)
    curve = curves(rows) if rows else None
    result = {"variant": variant, "target_fd": target, "checkout": str(args.checkout), "seed": args.seed,
              "train_flags": args.train_flags}
    if found:
        step, fd, seconds = found
        return {**result, "reached": True, "iterations": step, "classifier_fd": fd, "training_minutes": seconds / 60}
    if curve is None or not curve["evaluated"].any():
        return {**result, "reached": False, "iterations": 0, "classifier_fd": float("nan"), "training_minutes": 0.0}
    last = np.flatnonzero(curve["evaluated"])[-1]
    return {**result, "reached": False, "iterations": int(curve["steps"][last]),
            "classifier_fd": float(curve["quality"][last]), "training_minutes": float(curve["seconds"][-1]) / 60}


def main():
    parser = arguments.Parser(description=__doc__)
    parser.add_argument("--variants", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--checkout", type=pathlib.Path, default=REPO, help="the repository checkout to run")
    parser.add_argument("--runs", default="runs/time_to_quality")
    parser.add_argument("--max_steps", type=arguments.count, default=2000)
    parser.add_argument("--eval_every", type=arguments.count, default=50)
    parser.add_argument("--seed", type=arguments.seed, default=0)
    parser.add_argument("--target_fd", type=arguments.number(float, above=0),
                        help="one target for every variant instead of TARGETS")
    parser.add_argument("--json", type=arguments.output_file, help="also write the rows here")
    parser.add_argument("train_flags", nargs="*", help="after --: more flags for every train.py")
    args = parser.parse_args()
    if args.eval_every % LOG_EVERY:
        parser.error(f"--eval_every must be a multiple of {LOG_EVERY}, the logging cadence whose rates time the run")
    args.checkout = args.checkout.resolve()
    arguments.children_end_with_this_process()  # a SIGTERM stops the training run too
    rows = []
    for variant in args.variants:
        rows.append(run(variant, args.target_fd or TARGETS[variant], args))
        print(json.dumps(rows[-1]), flush=True)
    print("| variant | target FD | iterations | FD there | training minutes |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        mark = "" if row["reached"] else " (not reached)"
        print(f"| {row['variant']} | {row['target_fd']:.0f} | {row['iterations']:,}{mark} | "
              f"{row['classifier_fd']:.1f} | {row['training_minutes']:.1f} |")
    if args.json:
        arguments.write_text_whole(args.json, json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
