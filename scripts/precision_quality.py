"""Does --mixed_precision=bfloat16 change sample quality? Each variant, float32 and bfloat16,
several seeds, the same iterations on mnist_5k, scored by commands.evaluate.

    python scripts/precision_quality.py                         # 5 variants x 2 x 3 seeds, 200 iterations
    python scripts/precision_quality.py --variants wgan_gp --seeds 0 1 --train_steps 500

Each run is the train.py command a user types, then `python -m commands.evaluate`; a run
whose metrics.json exists is not run again, so the script can be stopped and restarted.
Prints a table of the classifier FD and score (mean and standard deviation over the
seeds) and writes the rows as JSON (--json). Speed is not measured here (runs may share the
machine with other work): benchmarks/benchmark.py measures it.
"""
import json
import pathlib
import statistics
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import arguments  # noqa: E402
import variants  # noqa: E402

PRECISIONS = {"float32": "off", "bfloat16": "bfloat16"}


def run(variant, precision, seed, steps, runs):
    """Trains and evaluates one setting (unless done before); returns its row."""
    logdir = runs / f"{variant}-{precision}-seed{seed}"
    trained = logdir / "trained"
    if not trained.is_file():
        arguments.run_child([sys.executable, f"{variant}/train.py", "--dataset=mnist_5k", f"--train_steps={steps}",
                             f"--seed={seed}", f"--mixed_precision={PRECISIONS[precision]}", f"--logdir={logdir}",
                             f"--checkpoint_every={steps}", f"--sample_every={steps}", "--log_every=50"],
                            cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        trained.touch()  # a run killed part-way has no marker; train.py resumes it from its checkpoint
    if not (logdir / "metrics.json").is_file():
        arguments.run_child([sys.executable, "-m", "commands.evaluate", f"--logdir={logdir}"], cwd=REPO,
                            check=True, stdout=subprocess.DEVNULL)
    samples = json.loads((logdir / "metrics.json").read_text())["samples"]
    return {"variant": variant, "precision": precision, "seed": seed, "train_steps": steps,
            "classifier_fd": samples["classifier_fd"], "classifier_score": samples["classifier_score"]}


def summary(rows):
    """Mean and standard deviation over the seeds, per variant and precision."""
    groups = {}
    for row in rows:
        groups.setdefault((row["variant"], row["precision"]), []).append(row)
    lines = ["| variant | precision | seeds | classifier FD | classifier score |",
             "| --- | --- | --- | --- | --- |"]
    for (variant, precision), group in groups.items():
        def spread(key, digits):
            values = [row[key] for row in group]
            deviation = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.mean(values):.{digits}f} ± {deviation:.{digits}f}"
        lines.append(f"| {variant} | {precision} | {len(group)} | {spread('classifier_fd', 1)} | "
                     f"{spread('classifier_score', 2)} |")
    return "\n".join(lines)


def main():
    parser = arguments.Parser(description=__doc__)
    parser.add_argument("--variants", nargs="+", default=list(variants.NAMES), choices=variants.NAMES)
    parser.add_argument("--seeds", nargs="+", type=arguments.seed, default=[0, 1, 2])
    parser.add_argument("--train_steps", type=arguments.count, default=200)
    parser.add_argument("--runs", default="runs/precision_quality")
    parser.add_argument("--json", type=arguments.output_file, help="also write the rows here")
    args = parser.parse_args()
    arguments.children_end_with_this_process()  # a SIGTERM stops the children this script starts
    runs = pathlib.Path(args.runs).resolve()
    rows = []
    for seed in args.seeds:  # seed-major: a stopped study still has whole comparisons
        for variant in args.variants:
            for precision in PRECISIONS:
                rows.append(run(variant, precision, seed, args.train_steps, runs))
                print(json.dumps(rows[-1]), flush=True)
    print(summary(rows))
    if args.json:
        arguments.write_text_whole(args.json, json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
