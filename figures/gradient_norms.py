"""WGAN-GP paper, Figure 1(b): gradient norms across a deep critic, and its weights.

    python figures/gradient_norms.py           # the figure; about 5 minutes on 2 CPU cores
    python figures/gradient_norms.py --quick   # c = 0.01, 0.001 and the penalty, 10 iterations (the test)

A critic of 12 ReLU layers (toy/networks.py with depth=12) and the toy generator are
trained on the Swiss roll with wgan/'s steps (weight clipping at c = 0.1, 0.01 and
0.001) and with wgan_gp/'s (gradient penalty, toy lambda 0.1), each with its paper's
optimizer. Afterwards, the gradient of the critic's Wasserstein loss (the variant's own
losses.discriminator_loss) is backpropagated over 5 fresh batches, and its norm is taken
at each hidden layer's output, layer 1 (next to the input) to 12 (next to the output).

Claim: with clipping the gradient grows (large c) or shrinks (small c) geometrically as
it travels from the output down to the input, while with the penalty it stays within
about an order of magnitude; and clipping piles the weights up at +-c. The numbers, per
setting: log10(gradient norm at layer 1 / at layer 12) (a norm that underflowed to 0
counts as 1e-45, float32's smallest), and the share of weights within 2% of the largest
magnitude (+-c when clipped).
Writes docs/figures/gradient_norms.png and .json (--output_dir to change; --quick: build/figures).
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import arguments  # noqa: E402
from figures import toolkit  # noqa: E402

SETTINGS = {  # label: (variant, flags)
    "clipping c=0.1": ("wgan", {"clip_value": 0.1}),
    "clipping c=0.01": ("wgan", {"clip_value": 0.01}),
    "clipping c=0.001": ("wgan", {"clip_value": 0.001}),
    "gradient penalty": ("wgan_gp", {"gp_lambda": 0.1}),
}
DEPTH = 12
ITERATIONS, QUICK_ITERATIONS = 200, 10  # generator iterations (5 critic updates each)
BINS = 60


def train_deep_critic(label, iterations):
    import keras
    import numpy as np
    import tensorflow as tf

    import variants
    from common import devices, sampling
    from toy import data, networks
    from toy import steps as toy_steps

    variant, overrides = SETTINGS[label]
    train_module = toolkit.variant_module(variant)
    losses = variants.module(variant, "losses")
    config = toolkit.default_config(train_module, batch_size=256, seed=0, **overrides)
    devices.seed_everything(0)
    generator, discriminator = networks.make_generator(), networks.make_discriminator(depth=DEPTH)
    discriminator_step, generator_step = toy_steps.make_steps(train_module, generator, discriminator, config)
    real_batches = data.batches("swissroll", config["batch_size"], seed=0)
    for _ in range(int(iterations)):
        train_module.train_iteration(real_batches, discriminator_step, generator_step, config["n_critic"])

    dense = [layer for layer in discriminator.layers if hasattr(layer, "kernel")]
    with_hidden = keras.Model(discriminator.inputs[0], [layer.output for layer in dense])  # 12 hidden + the output
    size = config["batch_size"]
    norms = np.zeros(len(dense) - 1)
    for _ in range(5):
        real, _ = next(real_batches)
        fake = sampling.label_free(generator)(tf.random.normal([size, networks.LATENT_DIM]))
        with tf.GradientTape() as tape:
            outputs = with_hidden(tf.concat([real, fake], axis=0))
            loss = losses.discriminator_loss(outputs[-1][:size], outputs[-1][size:])
        norms += [float(tf.norm(gradient)) for gradient in tape.gradient(loss, outputs[:-1])]
    weights = np.concatenate([layer.kernel.numpy().ravel() for layer in dense[1:-1]])  # the 512x512 layers
    return {"gradient_norms": norms / 5, "weights": weights}


def summarize(norms, weights):
    """The claim's two numbers for one critic.

    norms: gradient norms [layers], layer 1 (next to the input) first; a norm that underflowed
    to 0 counts as 1e-45 (float32's smallest). weights: the hidden kernels, flattened.
    Returns log10(norm at layer 1 / norm at the last layer), to 2 decimals, and the share of
    weights within 2% of the largest magnitude (in [0, 1], to 3 decimals).
    """
    import numpy as np

    log_norms = np.log10(np.maximum(norms, 1e-45))
    largest = np.abs(weights).max()
    return {
        "log10_norm_layer1_over_layer12": round(float(log_norms[0] - log_norms[-1]), 2),
        "weights_within_2pct_of_largest": round(float(np.mean(np.abs(weights) >= 0.98 * largest)), 3),
    }


def main():
    parser = arguments.Parser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer training iterations")
    parser.add_argument("--output_dir", help="default: docs/figures; with --quick, build/figures")
    args = parser.parse_args()
    args.output_dir = toolkit.output_folder(args.output_dir, args.quick)
    name = "gradient_norms_quick" if args.quick else "gradient_norms"
    toolkit.check_outputs(parser, args.output_dir, f"{name}.png", f"{name}.json")

    import numpy as np

    iterations = QUICK_ITERATIONS if args.quick else ITERATIONS
    plt = toolkit.pyplot()
    figure = plt.figure(figsize=(11, 4))
    norms_axes = figure.add_subplot(1, 2, 1)
    histogram_axes = [figure.add_subplot(2, 2, 2), figure.add_subplot(2, 2, 4)]
    claims = {"generator_iterations": iterations}
    for label in SETTINGS:
        if args.quick and label == "clipping c=0.1":
            continue
        result = train_deep_critic(label, iterations)
        norms, weights = result["gradient_norms"], result["weights"]
        log_norms = np.log10(np.maximum(norms, 1e-45))
        norms_axes.plot(np.arange(1, len(norms) + 1), log_norms, marker="o", label=label)
        claims[label] = summarize(norms, weights)
        print(f"{label:18s} {claims[label]}", flush=True)
        if label in ("clipping c=0.01", "gradient penalty"):
            axes = histogram_axes[0 if label.startswith("clipping") else 1]
            axes.hist(weights, bins=BINS, color="tab:blue" if label.startswith("clipping") else "tab:red")
            axes.set_title(f"critic weights, {label}", fontsize=8)
            axes.set_yticks([])
    norms_axes.set(xlabel="critic layer (1 = next to the input)", ylabel="log10 gradient norm",
                   title=f"12-layer critics on the Swiss roll, {iterations} generator iterations")
    norms_axes.title.set_fontsize(9)
    norms_axes.legend(fontsize=8)
    figure.tight_layout()
    print(f"wrote {toolkit.save_figure(figure, name, args.output_dir)}")
    toolkit.write_claims(name, claims, args.output_dir)


if __name__ == "__main__":
    main()
