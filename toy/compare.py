"""Trains several toy runs (toy/train.py's run, in this process) and prints one table.

    python toy/compare.py --study=variants  # dcgan, wgan, wgan_gp on all three toy sets
    python toy/compare.py --study=options   # critic options of wgan_gp/ on 8 and 25 Gaussians
    python toy/compare.py --study=beta1     # Adam's beta1 for wgan_gp and dcgan on 25 Gaussians
    python toy/compare.py --study=dcgan     # DCGAN's generator losses and k on 8 Gaussians

Each run is what `python toy/train.py --variant=... FLAGS` trains, into RUNS_DIR/VARIANT-FLAGS-DATASET-SEED;
a run whose result.json is there already is read, not repeated, so studies share runs.
The table (Markdown) goes to stdout and to RUNS_DIR/STUDY.md.
--train_steps and --seeds set the budget of every row; the rest are toy/train.py's
defaults (gan_toy.py's settings: batch 256; for the Adam critics lambda 0.1, beta1 0.5).
"""
import json
import pathlib
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import arguments  # noqa: E402

OPTIONS = {  # name: (variant, flags)
    "one-centred penalty (WGAN-GP)": ("wgan_gp", []),
    "zero-centred penalty (R1)": ("wgan_r1", []),
    "hinge loss + spectral norm": ("sngan", []),
}
STUDIES = {
    "variants": [(variant, variant, [], dataset) for dataset in ("8gaussians", "25gaussians", "swissroll")
                 for variant in ("dcgan", "wgan", "wgan_gp")],
    "options": [(name, variant, flags, dataset) for dataset in ("8gaussians", "25gaussians")
                for name, (variant, flags) in OPTIONS.items()],
    "dcgan": [(f"dcgan, {loss}, k={k}", "dcgan", [f"--g_loss={loss}", f"--n_critic={k}"], "8gaussians")
              for k in (1, 5) for loss in ("non_saturating", "minimax")],
    "beta1": [(f"{variant}, beta1 {beta1}", variant, [f"--beta1={beta1}"], "25gaussians")
              for variant in ("wgan_gp", "dcgan") for beta1 in (0.0, 0.5, 0.9)],
}


# Flags that only restate toy/train.py's defaults (for the variants they are used with
# here): left out of run names, so that equal settings share one run.
DEFAULTS = ("--beta1=0.5", "--g_loss=non_saturating", "--n_critic=1")


def run_directory(runs_dir, variant, flags, dataset, seed, steps):
    """Where the run with these settings lives; one name per settings, whatever the study."""
    flags = [flag.lstrip("-") for flag in flags if flag not in DEFAULTS]
    slug = "".join(c if c.isalnum() or c in ".=" else "_" for c in "-".join([variant, *flags]))
    return pathlib.Path(runs_dir) / f"{slug}-{dataset}-{steps}-seed{seed}"


def run(variant, flags, dataset, seed, steps, logdir):
    """The run's result.json, training it first (in this process) if it is not there yet."""
    from toy import train as toy_train

    if (logdir / "result.json").is_file():
        return json.loads((logdir / "result.json").read_text())
    overrides = dict(flag.lstrip("-").split("=", 1) for flag in flags)
    config = toy_train.toy_config(variant, dataset=dataset, train_steps=steps, seed=seed, log_every=10**6)
    config.update({key: type(config[key])(value) for key, value in overrides.items()})
    return toy_train.run(variant, config, logdir)


def main():
    parser = arguments.Parser(description=__doc__)
    parser.add_argument("--study", choices=sorted(STUDIES), required=True)
    parser.add_argument("--train_steps", type=arguments.count, default=1000, help="generator iterations per run")
    parser.add_argument("--seeds", type=arguments.count, default=1, help="runs per row (seeds 0, 1, ...)")
    parser.add_argument("--runs_dir", default="runs/toy", help="where the runs go")
    args = parser.parse_args()

    lines = ["| option | data | modes covered (per seed) | high-quality samples | sliced W1 (real: {floor}) | s/run |",
             "|---|---|---|---|---|---|"]
    floors = []
    for name, variant, flags, dataset in STUDIES[args.study]:
        results = []
        for seed in range(args.seeds):
            logdir = run_directory(args.runs_dir, variant, flags, dataset, seed, args.train_steps)
            results.append(run(variant, flags, dataset, seed, args.train_steps, logdir))
        floors += [r["real_sliced_wasserstein"] for r in results]
        covered = ", ".join(f"{r['modes_covered']}/{r['modes']}" if "modes" in r else "-" for r in results)
        quality = f"{statistics.mean(r['high_quality'] for r in results):.0%}" if "modes" in results[0] else "-"
        distance = statistics.mean(r["sliced_wasserstein"] for r in results)
        seconds = statistics.mean(r["seconds"] for r in results)
        lines.append(f"| {name} | {dataset} | {covered} | {quality} | {distance:.3f} | {seconds:.0f} |")
        print(lines[-1], flush=True)
    lines[0] = lines[0].replace("{floor}", f"{statistics.mean(floors):.3f}")
    table = "\n".join(lines) + f"\n\n{args.train_steps} generator iterations, seeds 0-{args.seeds - 1}.\n"
    pathlib.Path(args.runs_dir).mkdir(parents=True, exist_ok=True)
    arguments.write_text_whole(pathlib.Path(args.runs_dir) / f"{args.study}.md", table)
    print(table)


if __name__ == "__main__":
    main()
