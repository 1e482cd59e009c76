"""WGAN-GP paper, toy training: each variant's samples on the three toy sets, with mode coverage.

    python figures/toy_training.py                  # 3 variants x 3 sets, 1,000 iterations; about 25 min
    python figures/toy_training.py --variants=wgan_gp --datasets=8gaussians --train_steps=4000
    python figures/toy_training.py --quick          # 8 Gaussians, 300 iterations (the test runs this)

Each panel is one `python toy/train.py` run (the variant's own steps, losses and
optimizers on toy/networks.py's MLPs, with gan_toy.py's toy settings), trained or
reused through toy/compare.py's run directories, so runs are shared with its studies.
Generated points (green) are drawn over real ones (orange).

The numbers: modes covered (a mode counts when at least a tenth of its fair share of
2,500 samples lies within 0.15 of it; toy/data.py) and the sliced Wasserstein distance to
fresh real points (common/metrics.py). The paper's claim is that WGAN-GP covers all 8 and
nearly all 25 modes. Writes docs/figures/toy_training.png and .json (--output_dir to change;
a run with other than the default variants, sets and budget gets its own file name).
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import arguments  # noqa: E402
from figures import toolkit  # noqa: E402
from toy import compare, data  # noqa: E402
import variants  # noqa: E402

VARIANTS = variants.PAPERS  # the default; the siblings can be chosen too
CHOICES = variants.NAMES
DEFAULT_STEPS, QUICK_STEPS = 1000, 300


def panel(axes, real, fake, title):
    axes.scatter(real[:, 0], real[:, 1], s=1, c="tab:orange")
    axes.scatter(fake[:, 0], fake[:, 1], s=1, c="tab:green")
    axes.set(xlim=(-2.5, 2.5), ylim=(-2.5, 2.5), aspect="equal", xticks=[], yticks=[])
    axes.set_title(title, fontsize=9)


def main():
    parser = arguments.Parser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"8 Gaussians, {QUICK_STEPS} iterations")
    parser.add_argument("--variants", nargs="+", choices=CHOICES, default=list(VARIANTS))
    parser.add_argument("--datasets", nargs="+", choices=data.NAMES, default=list(data.NAMES))
    parser.add_argument("--train_steps", type=arguments.count, default=None,
                        help=f"generator iterations (default {DEFAULT_STEPS})")
    parser.add_argument("--runs_dir", default="runs/toy", help="where the runs go (shared with toy/compare.py)")
    parser.add_argument("--output_dir", help="default: docs/figures; with --quick, build/figures")
    args = parser.parse_args()
    args.output_dir = toolkit.output_folder(args.output_dir, args.quick)
    if args.train_steps is not None and args.train_steps < 1:
        parser.error("--train_steps must be at least 1")

    import numpy as np

    datasets = ["8gaussians"] if args.quick else args.datasets
    steps = args.train_steps or (QUICK_STEPS if args.quick else DEFAULT_STEPS)
    name = "toy_training_quick" if args.quick else "toy_training"
    if not args.quick and (args.variants != list(VARIANTS) or datasets != list(data.NAMES) or steps != DEFAULT_STEPS):
        name = f"toy_training-{'-'.join(args.variants)}-{'-'.join(datasets)}-{steps}"
    toolkit.check_outputs(parser, args.output_dir, f"{name}.png", f"{name}.json")

    plt = toolkit.pyplot()
    figure, axes = plt.subplots(
        len(datasets), len(args.variants), figsize=(3 * len(args.variants), 3 * len(datasets)), squeeze=False
    )
    claims = {"train_steps": steps}
    for row, dataset in enumerate(datasets):
        real = data.sample(dataset, 2500, np.random.default_rng(1))
        for column, variant in enumerate(args.variants):
            logdir = compare.run_directory(args.runs_dir, variant, [], dataset, 0, steps)
            print(f"{variant} on {dataset} ({logdir})", flush=True)
            result = compare.run(variant, [], dataset, 0, steps, logdir)
            with np.load(logdir / "samples.npz") as archive:
                fake = archive["points"]
            numbers = {"sliced_wasserstein": round(result["sliced_wasserstein"], 3), "seconds": round(result["seconds"])}
            title = f"{variant}, {dataset}\nsliced W1 {result['sliced_wasserstein']:.3f}"
            if "modes" in result:
                numbers["modes_covered"] = f"{result['modes_covered']}/{result['modes']}"
                numbers["high_quality"] = round(result["high_quality"], 3)
                title += f", {numbers['modes_covered']} modes"
            claims[f"{variant}/{dataset}"] = numbers
            panel(axes[row, column], real, fake, title)
    figure.suptitle(f"{steps} generator iterations; real points orange, generated green", fontsize=10)
    figure.tight_layout()
    print(f"wrote {toolkit.save_figure(figure, name, args.output_dir)}")
    toolkit.write_claims(name, claims, args.output_dir)


if __name__ == "__main__":
    main()
