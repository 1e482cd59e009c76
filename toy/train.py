"""Trains a variant on a 2-D toy set with its own losses, steps and optimizers, and scores it.

    python toy/train.py --variant=wgan_gp --dataset=8gaussians
    python toy/train.py --variant=dcgan --dataset=25gaussians --beta1=0.9
    python toy/train.py --variant=wgan_r1 --dataset=25gaussians

--variant picks a variant directory (dcgan, wgan, wgan_gp, sngan, wgan_r1); every flag
of that variant's train.py applies (losses, optimizer, n_critic, penalty), with the toy
defaults of the official gan_toy.py: --batch_size=256 and, for the Adam critics, beta1
0.5 and lambda 0.1 (their image settings, beta1 0 and lambda 10, leave the toy critic far
behind in 1,000 iterations); and --train_steps=1000. The networks are toy/networks.py's
MLPs instead of the image networks; image-only flags (data_dir, image_size, strategy,
mixed_precision, conditional, eval_every) do not apply.

Writes into --logdir (default runs/toy-VARIANT-DATASET):
  result.json   modes covered (at least a tenth of a mode's fair share of the samples within
                0.15 of it), the share of high-quality samples (within 3 standard
                deviations of a mode), the sliced Wasserstein distance to fresh real
                points (common/metrics.py), time, and the config
  samples.png   real and generated points over the critic's contours
  samples.npz   the generated points [num_samples, 2]

Other scripts train in-process with `run(variant, config, logdir)`, config from
`toy_config(variant, ...)`.
"""
import os
import pathlib
import sys
import time

if __package__ in (None, ""):  # run as `python toy/train.py`: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from common import cli, devices, logs, metrics, rundir, sampling  # noqa: E402  (first: quiets TensorFlow)
from toy import data, networks, steps  # noqa: E402
import arguments  # noqa: E402
import variants  # noqa: E402

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

VARIANTS = variants.NAMES
TOY_DEFAULTS = {"dataset": "8gaussians", "batch_size": 256, "train_steps": 1000, "log_every": 250}
# gan_toy.py: "smaller lambda seems to help for toy tasks"; Adam(1e-4, beta1 0.5, 0.9).
ADAM_CRITIC = {"wgan_gp": {"gp_lambda": 0.1, "beta1": 0.5}, "wgan_r1": {"gp_lambda": 0.1, "beta1": 0.5},
               "sngan": {"beta1": 0.5}}
PLOT_RANGE = 3.0  # the plot and the critic's contours cover [-3, 3]^2
IGNORED = ("data_dir", "image_size", "strategy", "mixed_precision", "conditional", "eval_every")
NUM_SAMPLES = 2500


def variant_module(variant):
    if variant not in VARIANTS:
        raise cli.UserError(f"--variant must be one of {', '.join(VARIANTS)}, not {variant!r}"
                            f"{cli.did_you_mean(variant, VARIANTS)}")
    return variants.module(variant, "train")


def toy_defaults(variant):
    """The toy settings that replace the variant's image defaults."""
    return {**TOY_DEFAULTS, **ADAM_CRITIC.get(variant, {})}


def toy_config(variant, **overrides):
    """The variant's configuration at the toy defaults, with overrides; for in-process use."""
    config = cli.default_config(variant_module(variant), **toy_defaults(variant))
    config = {key: value for key, value in config.items() if key not in IGNORED}
    return {**config, "conditional": False, "jit_compile": False, "num_samples": NUM_SAMPLES, **overrides}


def train(variant, config):
    """Trains the toy nets with the variant's steps. Returns (generator, discriminator, seconds)."""
    train_module = variant_module(variant)
    devices.seed_everything(config["seed"])
    generator = networks.make_generator()
    discriminator = networks.make_discriminator(spectral_norm=variant == "sngan")
    discriminator_step, generator_step = steps.make_steps(train_module, generator, discriminator, config)
    real_batches = data.batches(config["dataset"], config["batch_size"], config["seed"])
    progress = logs.Progress(0, config["train_steps"], config["log_every"])
    began = time.perf_counter()
    for iteration in range(1, config["train_steps"] + 1):
        n_critic = train_module.critic_updates(iteration, config)
        result = train_module.train_iteration(real_batches, discriminator_step, generator_step, n_critic)
        progress.update(iteration, result)
    # The toy sets have no classes: G and D without their labels input, for scoring and plots.
    return sampling.label_free(generator), sampling.label_free(discriminator), time.perf_counter() - began


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
    with arguments.written_whole(path) as partial:
        figure.savefig(partial, dpi=100, format="png")
    pyplot.close(figure)


def run(variant, config, logdir):
    """Trains, scores, and writes result.json, samples.png and samples.npz into logdir; returns the result."""
    if config["dataset"] not in data.NAMES:
        raise cli.UserError(f"unknown toy dataset {config['dataset']!r}{cli.did_you_mean(config['dataset'], data.NAMES)}; "
                            f"choose one of {', '.join(data.NAMES)}")
    logdir = pathlib.Path(logdir)
    if (logdir / "config.json").exists():  # an image run's: its samples.npz and .png would be replaced
        raise cli.UserError(f"{logdir} holds a training run (config.json); the toy writes samples.npz, "
                            "samples.png and result.json into its folder: choose another --logdir")
    for name in ("samples.png", "samples.npz", "result.json"):  # before training, so that none is written alone
        if (logdir / name).is_dir():
            raise cli.UserError(f"{logdir / name} is a folder, where the toy writes its result")
    logdir.mkdir(parents=True, exist_ok=True)
    print(f"{variant} on {config['dataset']}: {config['train_steps']} generator iterations, "
          f"batch {config['batch_size']}")
    generator, discriminator, seconds = train(variant, config)
    result, fake, real = score(generator, config["dataset"], config["num_samples"], config["seed"])
    modes = f"{result['modes_covered']}/{result['modes']} modes, " if "modes" in result else ""
    summary = f"{modes}sliced W1 {result['sliced_wasserstein']:.3f} (real {result['real_sliced_wasserstein']:.3f})"
    print(f"{summary}; {seconds:.0f} s")
    plot(logdir / "samples.png", discriminator, fake, real, f"{variant}, {config['dataset']}: {summary}")
    with arguments.written_whole(logdir / "samples.npz") as partial, open(partial, "wb") as file:
        np.savez(file, points=fake)
    result = {**result, "seconds": seconds, "config": {**config, "logdir": str(logdir)}}
    rundir.write_json(logdir / "result.json", result)
    print(f"wrote {logdir / 'result.json'} and {logdir / 'samples.png'}")
    return result


def _variant_on_the_command_line(argv):
    """The --variant value as absl reads it (--variant NAME or --variant=NAME, the last one,
    one in a --flagfile too), read first because it decides which other flags exist; wgan_gp
    without one, and where absl cannot read the arguments (its own parse then says why)."""
    first = flags.FlagValues()
    flags.DEFINE_string("variant", "wgan_gp", "", flag_values=first)
    try:
        first(list(argv), known_only=True)
    except flags.Error:
        return "wgan_gp"
    return first.variant


def main(argv):
    variant = flags.FLAGS.variant
    config = cli.config_from_flags(flags.FLAGS, variant_module(variant))
    if flags.FLAGS.conditional:
        raise cli.UserError("--conditional needs class labels; the toy sets have none")
    config = {key: value for key, value in config.items() if key not in IGNORED}
    config.update(num_samples=flags.FLAGS.num_samples, conditional=False)  # variant: config_from_flags
    logdir = config["logdir"] if flags.FLAGS["logdir"].present else os.path.join(
        "runs", f"toy-{variant}-{config['dataset']}")
    run(variant, config, logdir)


if __name__ == "__main__":
    VARIANT = _variant_on_the_command_line(sys.argv)
    if VARIANT not in VARIANTS:
        print(f"error: --variant must be one of {', '.join(VARIANTS)}, not {VARIANT!r}"
              f"{cli.did_you_mean(VARIANT, VARIANTS)}", file=sys.stderr)
        sys.exit(2)
    train_module = variant_module(VARIANT)
    train_module.define_flags(flags.FLAGS)  # the variant's own flags, as its train.py has them
    define = cli.FlagDefiner(flags.FLAGS, __name__)  # (its integers stop at int64, as the variant's do)
    define.enum("variant", "wgan_gp", VARIANTS, "The variant whose steps train the toy nets")
    define.integer("num_samples", NUM_SAMPLES, "Generated (and real) points for the metrics", lower_bound=2)
    for name, value in toy_defaults(VARIANT).items():
        flags.FLAGS.set_default(name, value)
    # What the two flags mean here, where the image trainer's help would mislead.
    flags.FLAGS["dataset"].help = f"The toy set: {', '.join(data.NAMES)}"
    flags.FLAGS["logdir"].help = ("Where result.json, samples.png and samples.npz go (default runs/toy-VARIANT-DATASET); "
                                  "a toy run trains from scratch and replaces what is there")
    cli.run_command(main)
