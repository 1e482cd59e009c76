"""WGAN paper, Figure 2: a GAN discriminator and a WGAN critic telling two 1-D Gaussians apart.

    python figures/discriminator_vs_critic.py           # the figure; about 2 minutes on 2 CPU cores
    python figures/discriminator_vs_critic.py --quick   # fewer updates (the test runs this)

Real samples come from N(2, 0.5^2) and generated ones from N(-2, 0.5^2), held fixed. A
3-layer ReLU network (toy/networks.py, 1-D input) is trained as dcgan/'s discriminator
and as wgan/'s critic, with the variants' own steps and optimizers.

Claim: the discriminator saturates: at the generated samples D(x) is near 0, and the
gradient the minimax generator receives, d/dx log(1 - D(x)), nearly vanishes there. The
critic stays close to linear and its slope at the generated samples is as large as
anywhere. The numbers: at the generated samples, the mean |gradient| as a fraction of
its largest value on [-5, 5], for each; and the R^2 of a straight line fitted to the
critic on [-4, 4].
Writes docs/figures/discriminator_vs_critic.png and .json (--output_dir to change; --quick: build/figures).
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import arguments  # noqa: E402
from figures import toolkit  # noqa: E402

REAL_MEAN, FAKE_MEAN, STD = 2.0, -2.0, 0.5
STEPS = {"dcgan": 1000, "wgan": 3000}  # D updates; the clipped critic's RMSProp steps are 5e-5
QUICK_STEPS = {"dcgan": 300, "wgan": 600}
PLOT_RANGE = 5.0


def train_discriminator(variant, steps):
    import numpy as np
    import tensorflow as tf

    from common import devices, sampling
    from toy import networks
    from toy import steps as toy_steps

    train_module = toolkit.variant_module(variant)
    config = toolkit.default_config(train_module, batch_size=256, seed=0)
    devices.seed_everything(0)
    generator = toolkit.data_plus_noise(np.array([[FAKE_MEAN]], np.float32), noise_scale=STD)  # N(-2, 0.5^2)
    discriminator = networks.make_discriminator(dimensions=1)
    discriminator_step, _ = toy_steps.make_steps(train_module, generator, discriminator, config)
    rng = np.random.default_rng(0)
    labels = np.zeros(config["batch_size"], np.int32)
    for _ in range(int(steps)):
        real = (REAL_MEAN + STD * rng.standard_normal((config["batch_size"], 1))).astype(np.float32)
        discriminator_step(real, labels)
    discriminator = sampling.label_free(discriminator)  # for the plot: points -> values

    x = tf.constant(np.linspace(-PLOT_RANGE, PLOT_RANGE, 401, dtype=np.float32)[:, None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        output_values = discriminator(x)
        # What the generator descends: log(1 - D(x)) for the minimax GAN, -f(x) for WGAN.
        signal = tf.reduce_sum(tf.math.log_sigmoid(-output_values) if variant == "dcgan" else -output_values)
    gradient = tape.gradient(signal, x)
    values = tf.sigmoid(output_values) if variant == "dcgan" else output_values
    return {"x": x.numpy().ravel(), "values": values.numpy().ravel(), "gradient": gradient.numpy().ravel()}


def main():
    parser = arguments.Parser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer updates")
    parser.add_argument("--output_dir", help="default: docs/figures; with --quick, build/figures")
    args = parser.parse_args()
    args.output_dir = toolkit.output_folder(args.output_dir, args.quick)
    name = "discriminator_vs_critic_quick" if args.quick else "discriminator_vs_critic"
    toolkit.check_outputs(parser, args.output_dir, f"{name}.png", f"{name}.json")

    import numpy as np

    steps = QUICK_STEPS if args.quick else STEPS
    gan = train_discriminator("dcgan", steps["dcgan"])
    critic = train_discriminator("wgan", steps["wgan"])
    x = gan["x"]
    at_fakes = np.abs(x - FAKE_MEAN) <= 2 * STD

    def share_at_fakes(gradient):
        return float(np.mean(np.abs(gradient[at_fakes])) / np.abs(gradient).max())

    inner = np.abs(x) <= 4.0
    line = np.polyfit(x[inner], critic["values"][inner], 1)
    residual = critic["values"][inner] - np.polyval(line, x[inner])
    claims = {
        "steps": steps,
        "discriminator_D_at_fakes": float(np.mean(gan["values"][at_fakes])),
        "discriminator_gradient_at_fakes_over_max": share_at_fakes(gan["gradient"]),
        "critic_gradient_at_fakes_over_max": share_at_fakes(critic["gradient"]),
        "critic_linear_fit_r2": float(1 - residual.var() / critic["values"][inner].var()),
    }

    plt = toolkit.pyplot()
    figure, axes = plt.subplots(figsize=(7, 4))
    density = np.exp(-0.5 * ((x[:, None] - np.array([REAL_MEAN, FAKE_MEAN])) / STD) ** 2)
    axes.fill_between(x, density[:, 0], color="tab:orange", alpha=0.3, label="real N(2, 0.5²)")
    axes.fill_between(x, density[:, 1], color="tab:green", alpha=0.3, label="generated N(-2, 0.5²)")
    axes.plot(x, gan["values"], color="tab:red", label="GAN discriminator D(x)")
    scaled = (critic["values"] - critic["values"].min()) / np.ptp(critic["values"])
    axes.plot(x, scaled, color="tab:blue", label="WGAN critic f(x), rescaled to [0, 1]")
    axes.set(xlabel="x", ylim=(-0.05, 1.1))
    axes.set_title(f"D(G(z)) ≈ {claims['discriminator_D_at_fakes']:.1e}: minimax gradient at the generated samples "
                   f"{claims['discriminator_gradient_at_fakes_over_max']:.1e} of its max; "
                   f"critic's {claims['critic_gradient_at_fakes_over_max']:.2f}", fontsize=8)
    axes.legend(fontsize=8, loc="center left")
    figure.tight_layout()
    print(f"wrote {toolkit.save_figure(figure, name, args.output_dir)}")
    toolkit.write_claims(name, claims, args.output_dir)


if __name__ == "__main__":
    main()
