"""Trains several toy runs (toy/train.py, one process each) and prints one table.

    python toy/compare.py --study=options   # critic options of wgan_gp/ on 8 and 25 Gaussians
    python toy/compare.py --study=beta1     # Adam's beta1 for wgan_gp and dcgan on 25 Gaussians

Each row runs `python toy/train.py --variant=... FLAGS` into RUNS_DIR/STUDY/NAME and
reads its result.json; the table (Markdown) goes to stdout and RUNS_DIR/STUDY/table.md.
--train_steps and --seeds set the budget of every row; the rest are toy/train.py's
defaults (gan_toy.py's settings: batch 256, and for wgan_gp lambda 0.1, beta1 0.5).
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
OPTIONS = {  # name: (variant, flags)
    "one-centred penalty (WGAN-GP)": ("wgan_gp", []),
    "zero-centred penalty (R1)": ("wgan_gp", ["--penalty=zero_centred"]),
    "hinge loss + spectral norm": ("wgan_gp", ["--loss=hinge", "--penalty=none", "--spectral_norm"]),
}
STUDIES = {
    "options": [(name, variant, flags, dataset) for dataset in ("8gaussians", "25gaussians")
                for name, (variant, flags) in OPTIONS.items()],
    "beta1": [(f"{variant}, beta1 {beta1}", variant, [f"--beta1={beta1}"], "25gaussians")
              for variant in ("wgan_gp", "dcgan") for beta1 in (0.0, 0.5, 0.9)],
}


def run(name, variant, flags, dataset, seed, steps, logdir):
    command = [sys.executable, str(REPO / "toy" / "train.py"), f"--variant={variant}", f"--dataset={dataset}",
               f"--train_steps={steps}", f"--seed={seed}", f"--logdir={logdir}", "--log_every=1000000", *flags]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: {name} on {dataset} failed:\n{done.stderr[-2000:]}")
    return json.loads((logdir / "result.json").read_text())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--study", choices=sorted(STUDIES), required=True)
    parser.add_argument("--train_steps", type=int, default=1000, help="generator iterations per run")
    parser.add_argument("--seeds", type=int, default=1, help="runs per row (seeds 0, 1, ...)")
    parser.add_argument("--runs_dir", default="runs/toy", help="where the runs go")
    args = parser.parse_args()

    root = pathlib.Path(args.runs_dir) / args.study
    lines = [f"| option | data | modes covered (per seed) | high-quality samples | sliced W1 (real: {{floor}}) | s/run |",
             "|---|---|---|---|---|---|"]
    floors = []
    for name, variant, flags, dataset in STUDIES[args.study]:
        results = []
        for seed in range(args.seeds):
            slug = "".join(c if c.isalnum() else "_" for c in f"{name}-{dataset}-{seed}")
            results.append(run(name, variant, flags, dataset, seed, args.train_steps, root / slug))
        floors += [r["real_sliced_wasserstein"] for r in results]
        covered = ", ".join(f"{r['modes_covered']}/{r['modes']}" for r in results)
        quality = statistics.mean(r["high_quality"] for r in results)
        distance = statistics.mean(r["sliced_wasserstein"] for r in results)
        seconds = statistics.mean(r["seconds"] for r in results)
        lines.append(f"| {name} | {dataset} | {covered} | {quality:.0%} | {distance:.3f} | {seconds:.0f} |")
        print(lines[-1], flush=True)
    lines[0] = lines[0].replace("{floor}", f"{statistics.mean(floors):.3f}")
    table = "\n".join(lines) + f"\n\n{args.train_steps} generator iterations, seeds 0-{args.seeds - 1}.\n"
    root.mkdir(parents=True, exist_ok=True)
    (root / "table.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
