"""Trains a variant on a 2-D toy set with its own losses, steps and optimizers, and scores it.

    python toy/train.py --variant=wgan_gp --dataset=8gaussians
    python toy/train.py --variant=dcgan --dataset=25gaussians --beta1=0.9
    python toy/train.py --variant=wgan_gp --dataset=25gaussians --penalty=zero_centred --gp_lambda=5

--variant picks dcgan/, wgan/ or wgan_gp/; every flag of that variant's train.py
applies (losses, optimizer, n_critic, penalty options), with the toy defaults of the
official gan_toy.py: --batch_size=256 and, for wgan_gp, --gp_lambda=0.1 and --beta1=0.5
(its image settings, lambda 10 and beta1 0, leave the toy critic far behind in 1,000
iterations); and --train_steps=1000. The networks are toy/networks.py's
MLPs instead of the image networks; image-only flags (data_dir, image_size,
strategy, mixed_precision, conditional) do not apply.

Writes into --logdir (default runs/toy-VARIANT-DATASET):
  result.json   modes covered (at least a tenth of a mode's fair share of the samples within
                0.15 of it), the share of high-quality samples (within 3 standard
                deviations of a mode), the sliced Wasserstein distance to fresh real
                points (common/metrics.py), time, and the config
  samples.png   real and generated points over the critic's contours
  samples.npz   the generated points [num_samples, 2]
"""
import importlib
import os
import pathlib
import sys
import time

if __package__ in (None, ""):  # run as `python toy/train.py`: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import metrics, runs  # noqa: E402  (first: it quiets TensorFlow's start-up logging)
from toy import data, networks, steps  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

VARIANTS = ("dcgan", "wgan", "wgan_gp")


def _variant_on_the_command_line(argv):
    """The --variant=NAME argument, read before absl parses: it decides which flags exist."""
    names = [arg.split("=", 1)[1] for arg in argv[1:] if arg.startswith("--variant=")]
    return names[-1] if names else "wgan_gp"


VARIANT = _variant_on_the_command_line(sys.argv)
if VARIANT not in VARIANTS:
    print(f"error: --variant must be one of {', '.join(VARIANTS)}, not {VARIANT!r}", file=sys.stderr)
    sys.exit(2)
variant = importlib.import_module(f"{VARIANT}.train")  # defines the variant's flags

flags.DEFINE_enum("variant", "wgan_gp", VARIANTS, "The variant whose losses, steps and optimizers train the toy nets")
flags.DEFINE_integer("num_samples", 2500, "Generated (and real) points for the metrics and the plot", lower_bound=2)
FLAGS = flags.FLAGS
FLAGS.set_default("dataset", "8gaussians")
FLAGS.set_default("batch_size", 256)  # gan_toy.py
FLAGS.set_default("train_steps", 1000)
if VARIANT == "wgan_gp":  # gan_toy.py: "smaller lambda seems to help for toy tasks"; Adam(1e-4, 0.5, 0.9)
    FLAGS.set_default("gp_lambda", 0.1)
    FLAGS.set_default("beta1", 0.5)
FLAGS.set_default("log_every", 250)
PLOT_RANGE = 3.0  # the plot and the critic's contours cover [-3, 3]^2
IGNORED = ("data_dir", "image_size", "strategy", "mixed_precision", "conditional", "eval_every")


def train(config):
    """Trains the toy nets with the variant's steps. Returns (generator, discriminator, seconds)."""
    runs.seed_everything(config["seed"])
    generator = networks.make_generator()
    discriminator = networks.make_discriminator(spectral_norm=config.get("spectral_norm", False))
    discriminator_step, generator_step = steps.make_steps(variant, generator, discriminator, config)
    real_batches = data.batches(config["dataset"], config["batch_size"], config["seed"])
    critic_updates = getattr(variant, "critic_updates", lambda step, config: config["n_critic"])
    progress = runs.Progress(0, config["train_steps"], config["log_every"])
    began = time.perf_counter()
    for step in range(1, config["train_steps"] + 1):
        result = variant.train_iteration(real_batches, discriminator_step, generator_step, critic_updates(step, config))
        progress.update(step, result)
    return generator, discriminator, time.perf_counter() - began


def score(generator, name, num_samples, seed):
    """Metrics of G's points against fresh real points, and the same for real against real (the floor)."""
    rng = np.random.default_rng(seed)
    fake = generator(rng.standard_normal((num_samples, networks.LATENT_DIM)).astype(np.float32)).numpy()
    real, other_real = data.sample(name, num_samples, rng), data.sample(name, num_samples, rng)
    result = {
        "sliced_wasserstein": metrics.sliced_wasserstein(fake, real, seed=seed),
        "real_sliced_wasserstein": metrics.sliced_wasserstein(other_real, real, seed=seed),
    }
    if data.centres(name) is not None:
        covered, _ = metrics.mode_coverage(fake, data.centres(name), data.MODE_RADIUS)
        # "High quality" as in the mode-collapse literature: within 3 standard deviations of a mode.
        _, high_quality = metrics.mode_coverage(fake, data.centres(name), 3 * data.STD[name])
        result.update(modes=len(data.centres(name)), modes_covered=covered, high_quality=high_quality)
    return result, fake, real


def plot(path, discriminator, fake, real, title):
    """Real (orange) and generated (green) points over the contours of D on [-3, 3]^2."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    side = np.linspace(-PLOT_RANGE, PLOT_RANGE, 128, dtype=np.float32)
    grid_x, grid_y = np.meshgrid(side, side)  # rows follow y, columns follow x: no transpose needed
    values = discriminator(np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)).numpy().reshape(grid_x.shape)
    figure, axes = pyplot.subplots(figsize=(4.5, 4.5))
    axes.contour(grid_x, grid_y, values, levels=20, linewidths=0.6)
    axes.scatter(real[:, 0], real[:, 1], s=2, c="tab:orange", label="real")
    axes.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:green", label="generated")
    axes.set(xlim=(-PLOT_RANGE, PLOT_RANGE), ylim=(-PLOT_RANGE, PLOT_RANGE), aspect="equal")
    axes.set_title(title, fontsize=8)
    axes.legend(loc="lower right", fontsize=7, markerscale=3)
    figure.tight_layout()
    partial = path.with_name(path.name + ".partial.png")
    figure.savefig(partial, dpi=100)
    pyplot.close(figure)
    os.replace(partial, path)


def main(argv):
    if len(argv) > 1:
        raise runs.UserError(f"unexpected arguments {argv[1:]}; flags take the form --name=value")
    config = runs.config_from_flags(variant, variant=VARIANT)
    config = {key: value for key, value in config.items() if key not in IGNORED}
    if FLAGS.dataset not in data.NAMES:
        raise runs.UserError(f"unknown toy dataset {FLAGS.dataset!r}; choose one of {', '.join(data.NAMES)}")
    if FLAGS.conditional:
        raise runs.UserError("--conditional needs class labels; the toy sets have none")
    config.update(num_samples=FLAGS.num_samples, conditional=False)
    if not FLAGS["logdir"].present:
        config["logdir"] = os.path.join("runs", f"toy-{VARIANT}-{FLAGS.dataset}")
    logdir = pathlib.Path(config["logdir"])
    logdir.mkdir(parents=True, exist_ok=True)

    print(f"{VARIANT} on {FLAGS.dataset}: {config['train_steps']} generator iterations, batch {config['batch_size']}")
    generator, discriminator, seconds = train(config)
    result, fake, real = score(generator, FLAGS.dataset, FLAGS.num_samples, config["seed"])
    modes = f"{result['modes_covered']}/{result['modes']} modes, " if "modes" in result else ""
    summary = f"{modes}sliced W1 {result['sliced_wasserstein']:.3f} (real {result['real_sliced_wasserstein']:.3f})"
    print(f"{summary}; {seconds:.0f} s")
    plot(logdir / "samples.png", discriminator, fake, real, f"{VARIANT}, {FLAGS.dataset}: {summary}")
    np.savez(logdir / "samples.npz", points=fake)
    runs.write_json(logdir / "result.json", {**result, "seconds": seconds, "config": config})
    print(f"wrote {logdir / 'result.json'} and {logdir / 'samples.png'}")


if __name__ == "__main__":
    runs.run(main)
