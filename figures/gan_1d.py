"""The GAN paper's Figure 1: a 1-D generator distribution moving onto the data while D flattens to 1/2.

    python figures/gan_1d.py           # the figure; about a minute on 2 CPU cores
    python figures/gan_1d.py --quick   # fewer iterations (the test runs this)

Data x ~ N(2, 0.5^2). The generator maps z ~ N(0, 1) through 3 ReLU layers (toy/networks.py,
1-D), the discriminator is a 3-layer ReLU network, and both train with dcgan/'s own
steps and optimizers (Adam 2e-4, beta1 0.5, one D update per G update, non-saturating
generator loss). Four snapshots form a strip, like the paper's panels (a)-(d): the data
density (black, dotted), the generator's density (green, a histogram of its samples) and
D(x) (blue, dashed).

Claim: training moves p_g onto p_data, and D tends to 1/2 where the data are. The numbers,
per snapshot: the 1-D Wasserstein distance between generated and real samples, and the
mean |D(x) - 1/2| over x within two standard deviations of the data's mean.
Writes docs/figures/gan_1d.png and .json (--output_dir to change; --quick: build/figures).
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import arguments  # noqa: E402
from figures import toolkit  # noqa: E402

MEAN, STD = 2.0, 0.5
SNAPSHOTS = (0, 100, 400, 3000)  # generator iterations
# From 400 iterations to 1,200, W1 stays between 0.10 and 0.21 (1.39 at the start) and
# |D - 1/2| under 0.05 near the data (seed 0): --quick stops at 600, inside that stretch.
QUICK_SNAPSHOTS = (0, 100, 300, 600)
WIDTH = 128  # 1-D problems need far less than the 2-D toy nets' 512 units
PLOT_RANGE = (-3.0, 5.0)


def main():
    parser = arguments.Parser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--output_dir", help="default: docs/figures; with --quick, build/figures")
    args = parser.parse_args()
    args.output_dir = toolkit.output_folder(args.output_dir, args.quick)
    name = "gan_1d_quick" if args.quick else "gan_1d"
    toolkit.check_outputs(parser, args.output_dir, f"{name}.png", f"{name}.json")

    import numpy as np
    import tensorflow as tf

    from common import devices, sampling
    from toy import networks
    from toy import steps as toy_steps

    train_module = toolkit.variant_module("dcgan")
    config = toolkit.default_config(train_module, batch_size=256, seed=0)
    devices.seed_everything(0)
    generator = networks.make_generator(latent_dim=1, width=WIDTH, dimensions=1)
    discriminator = networks.make_discriminator(width=WIDTH, dimensions=1)
    discriminator_step, generator_step = toy_steps.make_steps(train_module, generator, discriminator, config)
    rng = np.random.default_rng(0)
    labels = np.zeros(config["batch_size"], np.int32)

    def real_batches():
        while True:
            yield (MEAN + STD * rng.standard_normal((config["batch_size"], 1))).astype(np.float32), labels

    batches = real_batches()
    x = np.linspace(*PLOT_RANGE, 400, dtype=np.float32)
    near_data = np.abs(x - MEAN) <= 2 * STD
    snapshots = QUICK_SNAPSHOTS if args.quick else SNAPSHOTS
    plt = toolkit.pyplot()
    figure, axes = plt.subplots(1, len(snapshots), figsize=(3.2 * len(snapshots), 3), sharey=True)
    claims = {}
    done = 0
    for ax, snapshot in zip(axes, snapshots):
        for _ in range(snapshot - done):
            train_module.train_iteration(batches, discriminator_step, generator_step, config["n_critic"])
        done = snapshot
        fake = sampling.label_free(generator)(tf.random.normal([20_000, 1])).numpy().ravel()
        real = MEAN + STD * np.random.default_rng(1).standard_normal(20_000)
        d_of_x = tf.sigmoid(sampling.label_free(discriminator)(x[:, None])).numpy().ravel()
        distance = float(np.mean(np.abs(np.sort(fake) - np.sort(real))))
        flatness = float(np.mean(np.abs(d_of_x[near_data] - 0.5)))
        claims[f"iteration {snapshot}"] = {"wasserstein_1": round(distance, 4), "mean_abs_D_minus_half": round(flatness, 4)}
        print(f"iteration {snapshot:5d}: W1 {distance:.3f}  mean |D - 1/2| near the data {flatness:.3f}", flush=True)
        density = np.exp(-0.5 * ((x - MEAN) / STD) ** 2) / (STD * np.sqrt(2 * np.pi))
        ax.hist(fake, bins=120, range=PLOT_RANGE, density=True, color="tab:green", alpha=0.5, label="p_g")
        ax.plot(x, density, "k:", label="p_data")
        ax.plot(x, d_of_x, "b--", label="D(x)")
        ax.set(xlim=PLOT_RANGE, ylim=(0, 1.6))
        ax.set_title(f"iteration {snapshot}: W1 {distance:.2f}, |D - 1/2| {flatness:.2f}", fontsize=8)
    axes[0].legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    print(f"wrote {toolkit.save_figure(figure, name, args.output_dir)}")
    toolkit.write_claims(name, claims, args.output_dir)


if __name__ == "__main__":
    main()
