"""The DCGAN paper's Figure 4: walks through latent space between random points.

    python figures/latent_walks.py --logdir=runs/readme/dcgan   # any run of any variant; seconds

Each row interpolates linearly between two random z ~ N(0, I) in STEPS steps and shows
G along the way (for a --conditional run, one class per row). The DCGAN paper reads
smooth transitions, with no sharp jumps, as a sign that the generator has not memorized
its training images.

The number: for each walk, the largest pixel distance between neighbouring images
divided by the mean one (1: every step changes the image equally; a jump gives a large
ratio), averaged over the walks.
Writes latent_walks.png and .json into LOGDIR/figures, beside the run they show (the
repository's copy: --output_dir=docs/figures).
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import arguments  # noqa: E402
from figures import toolkit  # noqa: E402

ROWS, STEPS = 8, 10


def main():
    parser = arguments.Parser(description=__doc__)
    parser.add_argument("--logdir", default="runs/readme/dcgan", help="a run directory with a checkpoint")
    parser.add_argument("--seed", type=arguments.seed, default=0)
    parser.add_argument("--output_dir", help="default: LOGDIR/figures")
    parser.add_argument("--name", type=arguments.file_name, default="latent_walks",
                        help="file name of the PNG and JSON")
    args = parser.parse_args()

    import numpy as np

    import variants
    from common import images, sampling
    from common.cli import UserError

    output_dir = pathlib.Path(args.output_dir or pathlib.Path(args.logdir) / "figures")
    toolkit.check_outputs(parser, output_dir, f"{args.name}.png", f"{args.name}.json")
    try:
        generator, checkpoint, num_classes = variants.load_generator(args.logdir)
    except UserError as error:  # no run there, or no checkpoint yet: one line, exit status 2
        parser.error(str(error))
    rng = np.random.default_rng(args.seed)
    ends = rng.standard_normal((2, ROWS, sampling.latent_dim(generator)))
    weights = np.linspace(0.0, 1.0, STEPS)[None, :, None]
    noise = ((1 - weights) * ends[0][:, None] + weights * ends[1][:, None]).reshape(ROWS * STEPS, -1)
    labels = np.repeat(np.arange(ROWS) % max(num_classes, 1), STEPS).astype(np.int32)  # 0s: unread
    samples = images.to_uint8(generator([noise.astype(np.float32), labels], training=False))
    walks = samples.reshape(ROWS, STEPS, -1).astype(np.float64) / 255.0
    step_distances = np.linalg.norm(np.diff(walks, axis=1), axis=2)  # [ROWS, STEPS - 1]
    ratios = step_distances.max(axis=1) / step_distances.mean(axis=1)
    claims = {
        "checkpoint": str(checkpoint),
        "largest_over_mean_step": round(float(ratios.mean()), 3),
        "worst_walk": round(float(ratios.max()), 3),
        "mean_step_pixel_distance": round(float(step_distances.mean()), 3),
    }
    images.save_png(images.grid(samples, columns=STEPS), output_dir / f"{args.name}.png")
    print(f"wrote {output_dir / (args.name + '.png')}")
    toolkit.write_claims(args.name, claims, output_dir)


if __name__ == "__main__":
    main()
