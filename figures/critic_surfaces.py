"""WGAN-GP paper, Figure 1(a): value surfaces of critics trained against a fixed generator.

    python figures/critic_surfaces.py           # the figure; about 5 minutes on 2 CPU cores
    python figures/critic_surfaces.py --quick   # 8 Gaussians only (the test runs this)

On 8 Gaussians, 25 Gaussians and the Swiss roll (toy/data.py), the generator is held
fixed at the real data plus N(0, I) noise, and a critic of three ReLU layers
(toy/networks.py) is trained with wgan/'s critic step (weight clipping, RMSProp) and
with wgan_gp/'s (gradient penalty, Adam), each with its paper's settings. The
contours show D on a 128x128 grid over [-3, 3]^2.

Claim: the penalized critic has a local maximum (it rises towards the real samples)
at each of the data's modes; the clipped critic is close to a simple function. Two
numbers check it, per panel: how many modes are local maxima of D (D at the mode
above D everywhere on a small circle around it), and the R^2 of a quadratic
polynomial fitted to D over [-2, 2]^2 (1: D is exactly quadratic).
Writes docs/figures/critic_surfaces.png and .json (--output_dir to change; --quick: build/figures).
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import arguments  # noqa: E402
from figures import toolkit  # noqa: E402

DATASETS = ("8gaussians", "25gaussians", "swissroll")
METHODS = {"wgan": "weight clipping", "wgan_gp": "gradient penalty"}
# Critic updates against the fixed generator, enough for the surfaces to settle (the
# penalized critic's peaks at the 8 modes form between 1,000 and 3,000 updates).
STEPS = {"wgan": 3000, "wgan_gp": 3000}
QUICK_STEPS = {"wgan": 600, "wgan_gp": 3000}
GRID_RANGE, GRID_SIZE = 3.0, 128
FIT_RANGE = 2.0  # the data lie within [-2, 2]^2
RING_POINTS = 32
GP_LAMBDA = 0.1  # gan_toy.py: "smaller lambda seems to help for toy tasks"; the paper uses 10 elsewhere


def train_critic(variant, dataset, steps):
    """Trains one critic; returns D on the grid and at the modes."""
    import numpy as np

    from common import devices, sampling
    from toy import data, networks
    from toy import steps as toy_steps

    train_module = toolkit.variant_module(variant)
    config = toolkit.default_config(train_module, batch_size=256, seed=0, gp_lambda=GP_LAMBDA)
    devices.seed_everything(0)
    generator = toolkit.data_plus_noise(data.sample(dataset, 100_000, np.random.default_rng(1)))
    discriminator = networks.make_discriminator()
    discriminator_step, _ = toy_steps.make_steps(train_module, generator, discriminator, config)
    real_batches = data.batches(dataset, config["batch_size"], seed=0)
    for _ in range(int(steps)):
        metrics = discriminator_step(*next(real_batches))
    discriminator = sampling.label_free(discriminator)  # for the plot: points -> values

    side = np.linspace(-GRID_RANGE, GRID_RANGE, GRID_SIZE, dtype=np.float32)
    # meshgrid's "xy" order: row i holds y = side[i], column j holds x = side[j], which
    # is what contour(x, y, values) expects. (Filling the points as x-major instead
    # needs values.T when plotting: the transpose to mind.)
    grid_x, grid_y = np.meshgrid(side, side)
    values = discriminator(np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)).numpy().reshape(grid_x.shape)
    result = {"values": values, "wasserstein_estimate": float(metrics["wasserstein_estimate"])}
    centres = data.centres(dataset)
    if centres is not None:
        result["local_maxima"] = modes_at_local_maxima(lambda points: discriminator(points).numpy(), centres)
        result["modes"] = len(centres)
    return result


def modes_at_local_maxima(critic, centres):
    """How many of the modes `centres` [M, 2] are local maxima of `critic`.

    critic: float32 points [N, 2] -> values [N] or [N, 1]. A mode counts when D there is
    above D at all RING_POINTS points of a circle around it whose radius is a quarter of
    the closest two modes' distance (so no circle reaches another mode). Returns 0..M.
    """
    import numpy as np

    spacing = min(np.linalg.norm(a - b) for i, a in enumerate(centres) for b in centres[i + 1:])
    angles = np.linspace(0, 2 * np.pi, RING_POINTS, endpoint=False)
    ring = 0.25 * spacing * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    points = np.concatenate([centres[:, None, :], centres[:, None, :] + ring[None]], axis=1)
    at_modes = np.asarray(critic(points.reshape(-1, 2).astype(np.float32))).reshape(len(centres), -1)
    return int(np.sum(at_modes[:, 0] > at_modes[:, 1:].max(axis=1)))


def quadratic_r2(values):
    """R^2 of the least-squares quadratic in (x, y) fitted to the grid values inside [-2, 2]^2."""
    import numpy as np

    side = np.linspace(-GRID_RANGE, GRID_RANGE, GRID_SIZE)
    grid_x, grid_y = np.meshgrid(side, side)
    inside = (np.abs(grid_x) <= FIT_RANGE) & (np.abs(grid_y) <= FIT_RANGE)
    x, y, target = grid_x[inside], grid_y[inside], values[inside].astype(np.float64)
    design = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = target - design @ coefficients
    return float(1.0 - residual.var() / target.var())


def main():
    parser = arguments.Parser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer critic updates")
    parser.add_argument("--output_dir", help="default: docs/figures; with --quick, build/figures")
    args = parser.parse_args()
    args.output_dir = toolkit.output_folder(args.output_dir, args.quick)
    name = "critic_surfaces_quick" if args.quick else "critic_surfaces"
    toolkit.check_outputs(parser, args.output_dir, f"{name}.png", f"{name}.json")

    import numpy as np

    from toy import data

    steps = QUICK_STEPS if args.quick else STEPS
    datasets = DATASETS[:1] if args.quick else DATASETS
    plt = toolkit.pyplot()
    figure, axes = plt.subplots(2, len(datasets), figsize=(3.5 * len(datasets), 7), squeeze=False)
    side = np.linspace(-GRID_RANGE, GRID_RANGE, GRID_SIZE)
    claims = {"steps": steps}
    for column, dataset in enumerate(datasets):
        real = data.sample(dataset, 1000, np.random.default_rng(2))
        for row, (variant, method) in enumerate(METHODS.items()):
            result = train_critic(variant, dataset, steps[variant])
            r2 = quadratic_r2(result["values"])
            panel = {"quadratic_r2": round(r2, 4)}
            label = f"{method}\nquadratic fit R² {r2:.2f}"
            if "modes" in result:
                panel["modes_at_local_maxima"] = f"{int(result['local_maxima'])}/{int(result['modes'])}"
                label += f", maxima at {panel['modes_at_local_maxima']} modes"
            claims[f"{dataset}/{method}"] = panel
            ax = axes[row, column]
            ax.contour(side, side, result["values"], levels=25, linewidths=0.7)
            ax.scatter(real[:, 0], real[:, 1], s=1, c="tab:orange")
            ax.set(xlim=(-GRID_RANGE, GRID_RANGE), ylim=(-GRID_RANGE, GRID_RANGE), aspect="equal")
            ax.set_title(f"{dataset}: {label}", fontsize=8)
            print(f"{dataset:12s} {method:17s} {panel}", flush=True)
    figure.suptitle("Critic value surfaces, generator fixed at data + N(0, I) (WGAN-GP Fig. 1a)", fontsize=10)
    figure.tight_layout()
    print(f"wrote {toolkit.save_figure(figure, name, args.output_dir)}")
    toolkit.write_claims(name, claims, args.output_dir)


if __name__ == "__main__":
    main()
