"""WGAN Figures 3-4 and WGAN-GP Figure 3 on digits: losses and sample quality during training.

    python figures/training_curves.py           # four runs of 1,000 iterations; about 65 minutes on 2 CPU cores
    python figures/training_curves.py --quick   # 4 iterations of each at batch 16 (the test runs this)

Trains the four settings of the WGAN-GP paper's Figure 3 on the bundled mnist_5k, each
with its variant's own train.py and that variant's defaults (the papers' settings):
    weight clipping (RMSProp)    wgan/train.py
    gradient penalty (RMSProp)   wgan_gp/train.py --optimizer=rmsprop --learning_rate=5e-5
    gradient penalty (Adam)      wgan_gp/train.py
    DCGAN                        dcgan/train.py
The second uses WGAN's optimizer and step size, so that the optimizer is not what
separates it from the first. (The networks still differ: each variant keeps its own, as
everywhere in the repository, where the paper used one architecture for all four.)

Quality is the Frechet distance in the digit classifier's features (commands/evaluate.py,
5,000 samples; --quick: 500), measured every --eval_every iterations by train.py itself.
Wall-clock time is training time only: each logged interval's iterations over its measured
rate, so evaluations do not count. Run nothing else meanwhile, or the times are not comparable.

The numbers behind the claims:
  - WGAN Figs. 3-4: for each Wasserstein setting, the rank correlation (Spearman)
    between minus the critic loss, median-filtered, and the Frechet distance at the
    evaluation points: near +1 when the loss falls as the samples improve. The same for
    DCGAN's discriminator loss, which the WGAN paper says does not track quality.
  - WGAN-GP Fig. 3: each setting's distance at the last evaluation, and its training time.
"checks" in the JSON says, for each claim, whether these numbers show it. The claims
need hundreds of iterations, so --quick (which the tests run) checks the machinery,
not the claims: at its budget no GAN has learned anything yet.

Runs go to --runs_dir/NAME; an existing run is resumed, a finished one reused, so a
killed command picks up where it stopped. Writes docs/figures/loss_vs_quality.png,
quality_vs_time.png and training_curves.json (--output_dir to change; --quick: build/figures).
"""
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import arguments  # noqa: E402
from figures import toolkit  # noqa: E402

WGAN_LEARNING_RATE = 5e-5  # the WGAN paper's RMSProp step size
SETTINGS = {  # name: (variant, flags other than the variant's defaults)
    "weight clipping (RMSProp)": ("wgan", {}),
    "gradient penalty (RMSProp)": ("wgan_gp", {"optimizer": "rmsprop", "learning_rate": WGAN_LEARNING_RATE}),
    "gradient penalty (Adam)": ("wgan_gp", {}),
    "DCGAN": ("dcgan", {}),
}
LOSS_PANELS = ("weight clipping (RMSProp)", "gradient penalty (Adam)", "DCGAN")
FULL = {"train_steps": 1000, "eval_every": 50, "log_every": 5}
# Two logged points and one evaluation each, of 500 samples: generating and scoring 5,000 took
# about half of --quick's time; fewer samples read a higher FD (docs/quality.md), which quick
# mode compares with nothing.
QUICK = {"train_steps": 4, "eval_every": 4, "eval_samples": 500, "log_every": 2, "batch_size": 16}
MEDIAN_WINDOW = 9  # logged points (45 iterations at --log_every=5)
QUALITY = "eval/classifier_fd"


def train(name, schedule, runs_dir):
    """Trains (or resumes, or reuses) one setting with its variant's own train(); returns its log rows.

    The same as `python VARIANT/train.py --dataset=mnist_5k --logdir=... FLAGS`, in this process.
    """
    variant, extra = SETTINGS[name]
    slug = name.replace(" ", "_").replace("(", "").replace(")", "").lower()
    logdir = (pathlib.Path(runs_dir) / slug).resolve()
    settings = {**schedule, "sample_every": schedule["train_steps"], "checkpoint_every": schedule["eval_every"], **extra}
    print(f"{variant}/train.py " + " ".join(f"--{key}={value}" for key, value in settings.items()), flush=True)
    train_module = toolkit.variant_module(variant)
    train_module.train(toolkit.default_config(train_module, dataset="mnist_5k", logdir=str(logdir), **settings))
    _, rows = arguments.finished_csv_rows(logdir / "metrics.csv")
    rows = [row for row in rows if int(row["step"]) <= schedule["train_steps"]]
    if not rows or int(rows[-1]["step"]) != schedule["train_steps"]:  # (a run logs its last iteration)
        print(f"error: {logdir / 'metrics.csv'} has no whole row for generator iteration {schedule['train_steps']} "
              f"(cut short?); delete {logdir} to train this setting again", file=sys.stderr)
        sys.exit(2)
    return rows


def curves(rows):
    """Arrays from a run's log: iterations, rates, training seconds, minus the discriminator loss, quality."""
    steps = np.array([int(row["step"]) for row in rows])
    rates = np.array([float(row["perf/steps_per_sec"]) for row in rows])
    seconds = np.cumsum(np.diff(steps, prepend=0) / rates)
    minus_loss = -np.array([float(row["loss/discriminator"]) for row in rows])
    evaluated = np.array([bool(row.get(QUALITY)) for row in rows])
    quality = np.array([float(row[QUALITY]) if row.get(QUALITY) else np.nan for row in rows])
    return {"steps": steps, "rates": rates, "seconds": seconds, "minus_loss": minus_loss, "evaluated": evaluated,
            "quality": quality}


def median_filter(values, window=MEDIAN_WINDOW):
    """The running median over `window` points centred on each (shorter at the ends)."""
    half = window // 2
    return np.array([np.median(values[max(0, i - half): i + half + 1]) for i in range(len(values))])


def spearman(a, b):
    """Spearman's rank correlation of two equally long 1-D arrays (no ties expected)."""
    ranks_a, ranks_b = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def summarize(curve):
    """The numbers for one run. The critic first climbs towards its optimum (its estimate
    rises while G has hardly moved), so the correlation is also given from the filtered
    curve's peak on, the part of training that the WGAN paper's figures show."""
    filtered = median_filter(curve["minus_loss"])
    at = curve["evaluated"]
    peak = int(np.argmax(filtered))
    after_peak = at & (np.arange(len(at)) >= peak)
    return {
        "iterations": int(curve["steps"][-1]),
        "training_seconds": round(float(curve["seconds"][-1]), 1),
        # The same at the run's median rate: robust to a stretch where something else used the cores.
        "seconds_at_median_rate": round(float(curve["steps"][-1] / np.median(curve["rates"])), 1),
        "classifier_fd_first_eval": round(float(curve["quality"][at][0]), 2),
        "classifier_fd_last_eval": round(float(curve["quality"][at][-1]), 2),
        "spearman_minus_loss_vs_fd": round(spearman(filtered[at], curve["quality"][at]), 3)
        if at.sum() >= 3 else None,  # (a rank correlation of fewer points says nothing: --quick has one)
        "minus_loss_peak_iteration": int(curve["steps"][peak]),
        "spearman_after_peak": round(spearman(filtered[after_peak], curve["quality"][after_peak]), 3)
        if after_peak.sum() >= 3 else None,
    }


def check_claims(summaries):
    """Whether the runs show each paper's claim (True or False), from summarize()'s numbers."""
    wasserstein = ("weight clipping (RMSProp)", "gradient penalty (RMSProp)", "gradient penalty (Adam)")
    last = {name: numbers["classifier_fd_last_eval"] for name, numbers in summaries.items()}
    dcgan = summaries["DCGAN"]["spearman_minus_loss_vs_fd"]
    return {
        # WGAN Figs. 3-4: past the critic's climb, minus its loss falls with the distance.
        "wgan_critic_loss_tracks_quality": all(
            (summaries[name]["spearman_after_peak"] or 0.0) > 0.8 for name in wasserstein),
        "dcgan_loss_does_not_track_quality": dcgan is not None and abs(dcgan) < 0.5,
        # WGAN-GP Fig. 3: the penalty beats clipping with either optimizer, at equal iterations.
        "penalty_beats_clipping": max(last["gradient penalty (RMSProp)"], last["gradient penalty (Adam)"])
        < last["weight clipping (RMSProp)"],
    }


def plain_log_axis(axes):
    """A log y axis labelled 20, 30, 100 rather than 2x10^1, 3x10^1, 10^2."""
    from matplotlib import ticker

    axes.set_yscale("log")
    for axis_ticks in (axes.yaxis.set_major_formatter, axes.yaxis.set_minor_formatter):
        axis_ticks(ticker.FuncFormatter(lambda value, _: f"{value:g}"))


def plot(results, quick, output_dir):
    plt = toolkit.pyplot()
    suffix = "_quick" if quick else ""

    figure, axes = plt.subplots(2, len(LOSS_PANELS), figsize=(4.2 * len(LOSS_PANELS), 6.2), sharex=True)
    for column, name in enumerate(LOSS_PANELS):
        curve = results[name]
        top, bottom = axes[0, column], axes[1, column]
        top.plot(curve["steps"], curve["minus_loss"], color="0.75", lw=0.8, label="logged")
        top.plot(curve["steps"], median_filter(curve["minus_loss"]), color="C0", label="median-filtered")
        top.set_title(name, fontsize=10)
        top.set_ylabel("minus the critic loss" if name != "DCGAN" else "minus the discriminator loss")
        top.legend(fontsize=7)
        at = curve["evaluated"]
        bottom.plot(curve["steps"][at], curve["quality"][at], "o-", color="C3", ms=3)
        plain_log_axis(bottom)
        bottom.set_xlabel("generator iterations")
        bottom.set_ylabel("Frechet distance (classifier)")
    figure.tight_layout()
    loss_path = toolkit.save_figure(figure, f"loss_vs_quality{suffix}", output_dir)

    figure, (by_step, by_time) = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for name, curve in results.items():
        at = curve["evaluated"]
        by_step.plot(curve["steps"][at], curve["quality"][at], "o-", ms=3, label=name)
        by_time.plot(curve["seconds"][at], curve["quality"][at], "o-", ms=3, label=name)
    plain_log_axis(by_step)
    by_step.set_xlabel("generator iterations")
    by_time.set_xlabel("training seconds (2 CPU cores)")
    by_step.set_ylabel("Frechet distance (classifier)")
    by_step.legend(fontsize=8)
    figure.tight_layout()
    time_path = toolkit.save_figure(figure, f"quality_vs_time{suffix}", output_dir)
    print(f"wrote {loss_path} and {time_path}")


def main():
    parser = arguments.Parser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="4 iterations of each run, at batch 16, "
                        "evaluated on 500 samples")
    parser.add_argument("--runs_dir", default="runs/curves", help="where the four runs go")
    parser.add_argument("--output_dir", help="default: docs/figures; with --quick, build/figures")
    args = parser.parse_args()
    args.output_dir = toolkit.output_folder(args.output_dir, args.quick)

    schedule = QUICK if args.quick else FULL
    suffix = "_quick" if args.quick else ""
    toolkit.check_outputs(parser, args.output_dir, f"loss_vs_quality{suffix}.png", f"quality_vs_time{suffix}.png",
                          f"training_curves{suffix}.json")
    runs_dir = pathlib.Path(args.runs_dir) / ("quick" if args.quick else "")
    results = {name: curves(train(name, schedule, runs_dir)) for name in SETTINGS}
    plot(results, args.quick, args.output_dir)
    claims = {name: summarize(curve) for name, curve in results.items()}
    claims["checks"] = check_claims(claims)
    toolkit.write_claims("training_curves_quick" if args.quick else "training_curves", claims, args.output_dir)


if __name__ == "__main__":
    main()
