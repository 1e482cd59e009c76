"""Measures sample quality against held-out real images, for a run of any variant.

    python -m commands.evaluate --logdir=runs/wgan_gp-mnist_5k         # the run's latest checkpoint
    python -m commands.evaluate --samples=samples.npz --dataset=mnist_5k

Prints a table and writes metrics.json (into the run directory, or beside the .npz).
Each metric is shown for the samples and for real training images of the same count
(the "real floor": what a perfect generator would score with this many images): --num_samples
for a run, the file's own count for --samples; a dataset with fewer training images caps the
floor's count, and the output says so.
The metrics and the data each dataset is scored with are common/quality.py's.
"""
import json
import pathlib
import sys
import zipfile

if __package__ in (None, ""):  # run as `python commands/evaluate.py`: make the repository importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from common import cli, data, quality, rundir, sampling  # noqa: E402  (first: it quiets TensorFlow's start-up logging)
import arguments  # noqa: E402
import variants  # noqa: E402

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
    """The command's flags; defined only when it runs (tests pass a FlagValues of their own)."""
    define = cli.FlagDefiner(flag_values, __name__)
    define.string("logdir", None, "Run directory: evaluate its latest checkpoint")
    define.string("samples", None, ".npz with uint8 `images` [N, H, W, C] (from commands.generate)")
    define.string("dataset", None, "With --samples: the dataset they imitate")
    define.string("data_dir", None, "Local copy of the dataset, as for train.py")
    define.integer("image_size", 64, "With --samples and a folder: or tfds: dataset, the image side", lower_bound=1)
    define.integer("num_samples", quality.DEFAULT_NUM_SAMPLES, "With --logdir: generated (and real floor) images; "
                   "with --samples the file's own count is used", lower_bound=2)
    define.integer("seed", 0, "Seed for the noise, the real-floor subset and the KID subsets", lower_bound=0)
    define.string("inception_weights", "imagenet", "InceptionV3 weights: imagenet (download) or a .h5 path")
    define.string("output", None, "metrics.json path (default: in the run directory / beside the .npz)")


def shape_text(shape):
    return "[" + ", ".join(str(side) for side in shape) + "]"


def read_member(archive, name):
    """The array `name` of an open .npz; raises ValueError naming the member if it is not one.

    NumPy returns the raw bytes of a member that does not start like an .npy file, and
    raises on one that does but is damaged (a bad header, cut short, a pickled object).
    """
    try:
        member = archive[name]
    except Exception as error:
        if "pickle" in str(error):
            raise
        raise ValueError(f"its {name}.npy cannot be read: "
                         f"{' '.join(str(error).split()) or type(error).__name__}") from None
    if not isinstance(member, np.ndarray):
        raise ValueError(f"its {name}.npy is not a NumPy array")
    return member


def value_range(images):
    """' with values LOW..HIGH' of a numeric array (and whether it contains NaN), or ''."""
    if not images.size or images.dtype.kind not in "iuf":
        return ""
    if images.dtype.kind == "f" and np.isnan(images).any():
        if np.isnan(images).all():
            return " containing only NaN"
        return f" containing NaN (the other values {np.nanmin(images):.4g}..{np.nanmax(images):.4g})"
    return f" with values {images.min():.4g}..{images.max():.4g}"


def read_samples(path, dataset_name, dataset):
    """The `images` (and `labels`, or None) of a .npz, checked against what `dataset` holds.

    images must be uint8 [N, H, W, C], N >= 2, with the dataset's H, W and C; labels, if
    present, int [N] with values among the dataset's classes. Anything else (a folder, a
    file that is not an .npz of plain arrays, a member that cannot be read) raises
    UserError naming what was expected and what was given.
    """
    if pathlib.Path(path).is_dir():
        raise cli.UserError(f"--samples={path} is a directory; give the .npz file commands.generate wrote")
    if not pathlib.Path(path).is_file():
        raise cli.UserError(f"--samples={path}: no such file")
    try:
        archive = np.load(path)  # allow_pickle=False: plain arrays only
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not an .npz archive")
        with archive:
            if "images" not in archive.files:
                raise cli.UserError(f"{path}: expected an array named images (as commands.generate writes); "
                                    f"it holds {sorted(archive.files) or 'no arrays'}")
            images = read_member(archive, "images")
            labels = read_member(archive, "labels") if "labels" in archive.files else None
    except cli.UserError:
        raise
    except Exception as error:  # whatever a damaged or foreign file makes NumPy or zipfile raise
        # NumPy takes any file it does not recognize for a pickle, and suggests unpickling it: not here.
        reason = "it is not an .npz of plain arrays" if "pickle" in str(error) else (
            " ".join(str(error).split()) or type(error).__name__)
        raise cli.UserError(f"cannot read images from {path}: expected an .npz written by commands.generate "
                            f"({reason})") from None
    expected = ("N",) + tuple(dataset.image_shape)
    given = f"{images.dtype} {shape_text(images.shape)}"
    if images.dtype != np.uint8:
        values = value_range(images)
        raise cli.UserError(f"{path}: images must be uint8 {shape_text(expected)} in 0..255 for {dataset_name}; "
                            f"given {given}{values}")
    if images.ndim != 4 or images.shape[1:] != tuple(dataset.image_shape):
        raise cli.UserError(f"{path}: images must be uint8 {shape_text(expected)} for {dataset_name}; given {given}")
    if len(images) < 2:
        raise cli.UserError(f"{path}: at least 2 images are needed (the metrics compare spreads); given {given}")
    if labels is None:
        return images, None
    classes = dataset.num_classes
    if not classes:
        raise cli.UserError(f"{path}: labels given, but {dataset_name} has no classes to check them against")
    given = f"{labels.dtype} {shape_text(labels.shape)}"
    if labels.dtype.kind not in "iu" or labels.shape != (len(images),):
        raise cli.UserError(f"{path}: labels must be int [{len(images)}], one per image; given {given}")
    if labels.min() < 0 or labels.max() >= classes:
        raise cli.UserError(f"{path}: labels must be {dataset_name}'s classes 0..{classes - 1}; "
                            f"given values {labels.min()}..{labels.max()}")
    return images, labels


REPORT_KEYS = ("samples", "real_floor", "extractor")  # in every report score_and_write writes


def check_output(output, given=True):
    """Refuses, before any work is done, an --output that cannot be written, or one that would
    replace a file this command did not write (a run's config.json, a picture): a report's
    name ends in .json, and a file already there must be an earlier report. given: whether
    the user named `output` (--output), or it is the default path."""
    where = f"--output={output}" if given else f"{output} (the report's default path)"
    problem = arguments.output_file_problem(output)
    if problem:
        raise cli.UserError(f"{where}: {problem}")
    if not output.name.endswith(".json"):
        raise cli.UserError(f"--output must end in .json, not {output.name!r}")
    if output.exists() and not earlier_report(output):
        raise cli.UserError(f"{where} exists and is not an earlier evaluation; "
                            + ("choose a new file" if given else "choose another with --output"))


def earlier_report(path):
    """Whether the file at `path` is a report that score_and_write wrote (JSON with REPORT_KEYS)."""
    try:
        report = json.loads(pathlib.Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(report, dict) and all(key in report for key in REPORT_KEYS)


def checked_inputs(flag_values):
    """Everything the flags name, checked before any work: the run's generator, or the
    .npz's images against the dataset. Bad input raises UserError (one line)."""
    if bool(flag_values.logdir) == bool(flag_values.samples):
        raise cli.UserError("pass either --logdir=RUN or --samples=FILE.npz --dataset=NAME")
    if flag_values.inception_weights != "imagenet" and not pathlib.Path(flag_values.inception_weights).is_file():
        raise cli.UserError(f"--inception_weights must be imagenet or an .h5 file; {flag_values.inception_weights} "
                            "is not a file")
    if flag_values.logdir:
        for name in ("dataset", "image_size"):
            if flag_values[name].present:
                raise cli.UserError(f"--{name} applies to --samples; a run is scored against the data it trained on")
        config = rundir.read_config(flag_values.logdir)
        inputs = {"dataset": rundir.data_identity(config), "data_dir": flag_values.data_dir or config["data_dir"],
                  "image_size": config["image_size"],  # what the run trained on
                  "output": pathlib.Path(flag_values.output or pathlib.Path(flag_values.logdir) / "metrics.json")}
        check_output(inputs["output"], given=bool(flag_values.output))
        inputs["generator"], inputs["source"], inputs["num_classes"] = variants.load_generator(flag_values.logdir)
        return inputs
    if not flag_values.dataset:
        raise cli.UserError("--samples needs --dataset=NAME, the data the samples imitate")
    if flag_values["num_samples"].present:
        raise cli.UserError("--num_samples applies to --logdir; with --samples every image of the file is scored, "
                            "and the real floor uses as many real images")
    if flag_values["image_size"].present and not flag_values.dataset.startswith(("folder:", "tfds:")):
        raise cli.UserError(
            f"--image_size applies to folder: and tfds: datasets; {flag_values.dataset} has a fixed size")
    beside = pathlib.Path(flag_values.samples).with_suffix(".metrics.json")
    inputs = {"dataset": flag_values.dataset, "data_dir": flag_values.data_dir, "image_size": flag_values.image_size,
              "output": pathlib.Path(flag_values.output or beside), "source": flag_values.samples}
    check_output(inputs["output"], given=bool(flag_values.output))
    dataset = data.load_dataset(flag_values.dataset, flag_values.data_dir, flag_values.image_size)
    inputs["images"], inputs["labels"] = read_samples(flag_values.samples, flag_values.dataset, dataset)
    return inputs


def score_and_write(inputs, num_samples, seed, inception_weights):
    """Scores the inputs (from checked_inputs) and the real floor, prints the table, writes
    metrics.json; returns what it wrote.

    The floor is scored with as many real training images as there are samples: num_samples
    generated for a run, the file's own count for --samples. A dataset with fewer training
    images caps it (a run then generates as many as the floor has; a file is scored whole),
    and the output says so.
    """
    dataset_name, data_dir, image_size = inputs["dataset"], inputs["data_dir"], inputs["image_size"]
    source, output = inputs["source"], inputs["output"]
    try:
        wanted = num_samples if "generator" in inputs else len(inputs["images"])
        evaluator = quality.Evaluator(dataset_name, data_dir, wanted, seed, inception_weights, image_size)
        if "generator" in inputs:
            images, labels = sampling.generate(inputs["generator"], evaluator.num_samples, seed + 1,
                                               num_classes=inputs["num_classes"])
        else:
            images, labels = inputs["images"], inputs["labels"]
        results = evaluator.score(images, labels)
        print(f"{source}: {len(images)} samples, {dataset_name}; {evaluator.describe()}")
        note = evaluator.shortfall(samples_whole="generator" not in inputs)
        if note:
            print(note)
        print(quality.table(results, evaluator.floor))
    except BaseException as error:
        if not cli.interrupted(error):
            raise
        # cli.run_command prints the message and exits with 130
        raise KeyboardInterrupt(f"interrupted: {output} was not written") from None
    report = {
        "source": str(source), "dataset": dataset_name, "num_samples": len(images),
        "real_floor_size": evaluator.num_samples, "reference_size": evaluator.reference_size,
        "extractor": evaluator.describe(), "samples": results,
        "real_floor": {key: evaluator.floor[key] for key in results}, "seed": seed,
    }
    rundir.write_json(output, report)
    print(f"wrote {output}")
    return report


def main(argv):
    score_and_write(checked_inputs(FLAGS), FLAGS.num_samples, FLAGS.seed, FLAGS.inception_weights)


if __name__ == "__main__":
    define_flags()
    cli.run_command(main)
