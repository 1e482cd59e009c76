"""Datasets and the tf.data input pipeline.

`load_dataset` returns one of three kinds of dataset, each with a short `source`
string that says where the images came from (the run's config.json records it), its
`image_shape`, `count` and `num_classes`, and one `pipeline` of uint8 batches:
  InMemory      uint8 images [N, H, W, C] in 0..255 and integer labels (or None)
  ImageFolder   a folder's image files, decoded batch by batch
  TfdsSet       a prepared TensorFlow Datasets set, read in sequence
`load_training_data` decides which one a run trains on, fresh or resumed.

Dataset names:
  mnist, fashion_mnist, cifar10   downloaded by keras.datasets into ~/.keras/datasets,
                                  or read from --data_dir
  mnist_5k                        5,000 real MNIST digits bundled in common/assets
  folder:PATH                     every .jpg/.jpeg/.png under PATH, turned upright by its
                                  EXIF orientation, transparent pixels on white, centre-
                                  cropped to a square and resized to image_size x image_size, RGB
  tfds:NAME                       a TensorFlow Datasets set prepared by commands/prepare.py
                                  (tfds:celeb_a, tfds:lsun/bedroom, ...), cropped and
                                  resized like a folder, with its labels if it has them

Folders and TFDS sets stream: make_batches reads and decodes them batch by batch.
"""
import contextlib
import gzip
import os
import pathlib
import pickle
import sys
import tempfile
from typing import NamedTuple, Optional

import numpy as np
import tensorflow as tf
from PIL import ExifTags, Image

from arguments import file_in_the_way, temporary_files_in
from common import devices, image_cache, rundir
from common.cli import UserError, did_you_mean, first_line, is_utf8

# For every function a pipeline here runs (map, flat_map, reduce): traced as written. tf.data would
# otherwise pass each through AutoGraph, which rewrites Python control flow (these branch with
# tf.cond and tf.where, and need none), costs a fifth of a second at each process's first run,
# and leaves its generated source in the temp folder of a process that ends without running
# exit handlers, as the commands end (common/cli.py).
as_written = tf.autograph.experimental.do_not_convert

NAMES = ("mnist", "fashion_mnist", "cifar10", "mnist_5k", "folder:PATH", "tfds:NAME")
MNIST_5K = pathlib.Path(__file__).resolve().parent / "assets" / "mnist_5k.npz"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
KERAS_CACHE = pathlib.Path(os.environ.get("KERAS_HOME", pathlib.Path.home() / ".keras")) / "datasets"


class InMemory(NamedTuple):
    """A dataset held in memory whole (mnist, fashion_mnist, cifar10, mnist_5k)."""

    images: np.ndarray  # uint8 [N, H, W, C], 0..255
    labels: Optional[np.ndarray]  # int [N], or None
    source: str  # where the images came from, for config.json

    @property
    def image_shape(self):
        return tuple(self.images.shape[1:])

    @property
    def count(self):
        return len(self.images)

    @property
    def num_classes(self):
        """Labels 0..max: max + 1 classes; 0 without labels."""
        return 0 if self.labels is None else int(self.labels.max()) + 1

    def pipeline(self, batch_size, seed, shards=1, shard=0, start=0):
        """One input pipeline's batches of uint8 images and int32 labels (memory_batches)."""
        return memory_batches(self, batch_size, seed, shards, shard, start)


class ImageFolder(NamedTuple):
    """A folder's image files (folder:PATH), read and decoded batch by batch as a run trains."""

    files: tuple  # the readable image files' paths, sorted
    orientations: tuple  # each file's EXIF orientation, 1..8 (1: upright as stored)
    image_size: int  # images are centre-cropped and resized to image_size x image_size
    source: str  # where the images came from, for config.json
    cache_dir: Optional[str] = None  # where the decoded images are kept (common/image_cache.py); None: not kept
    labels = None  # a folder has no labels
    num_classes = 0

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, 3)

    @property
    def count(self):
        return len(self.files)

    def pipeline(self, batch_size, seed, shards=1, shard=0, start=0):
        """One input pipeline's batches of uint8 images and int32 labels (folder_batches)."""
        return folder_batches(self, batch_size, seed, shards, shard, start)


class TfdsSet(NamedTuple):
    """A TensorFlow Datasets set (tfds:NAME) prepared on disk, read in sequence as a run trains."""

    name: str  # TFDS's name: "celeb_a", "lsun/bedroom", ...
    data_dir: Optional[str]  # where it was prepared (None: TFDS's default)
    split: str  # "train", "test", ...
    count: int  # its number of images
    image_size: int  # images are centre-cropped and resized to image_size x image_size
    channels: int  # colour channels, 1 or 3
    num_classes: int  # classes of its labels; 0: it has none
    source: str  # where the images came from, for config.json
    labels = None  # the labels stay on disk with the images

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, self.channels)

    def pipeline(self, batch_size, seed, shards=1, shard=0, start=0):
        """One input pipeline's batches of uint8 images and int32 labels (tfds_batches)."""
        return tfds_batches(self, batch_size, seed, shards, shard, start)


DOWNLOADED = ("mnist", "fashion_mnist", "cifar10")  # the names whose loading may download (keras.datasets)


def load_dataset(name, data_dir=None, image_size=64, split="train"):
    """Loads a dataset by name; raises UserError with a one-line fix when it cannot.

    Returns an InMemory, ImageFolder or TfdsSet.
    split: "train" for training the GANs, or "test" for held-out real images
    (the test split; for mnist_5k the last 100 digits of each class, which the
    GANs also train on since they see all 5,000; folders have no test split).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    if name in ("mnist", "fashion_mnist", "cifar10"):
        check_data_dir(data_dir)
    if name == "mnist":
        return _load_mnist(data_dir, split)
    if name == "fashion_mnist":
        return _load_fashion_mnist(data_dir, split)
    if name == "cifar10":
        return _load_cifar10(data_dir, split)
    if name == "mnist_5k":
        return load_mnist_5k(split)
    if name.startswith("folder:"):
        if split != "train":
            raise UserError(f"{name} has no test split")
        return load_folder(name[len("folder:"):], image_size)
    if name.startswith("tfds:"):
        return load_tfds(name[len("tfds:"):], data_dir, image_size, split)
    raise UserError(f"unknown dataset {name!r}{did_you_mean(name, NAMES[:4])}; choose one of: {', '.join(NAMES)}")


MNIST_5K_HELDOUT_PER_CLASS = 100


def load_training_data(config, strategy=None):
    """The images a run trains on: --dataset, except that a resumed run keeps the data it recorded.

    The one place that decides it, fresh or resumed. A run that fell back to mnist_5k while
    offline goes on with mnist_5k once mnist can be downloaded, instead of changing its data
    half-way; a folder is read from --cache_dir when given. (rundir.check_logdir then refuses
    a resumed run whose data is not the data it recorded.) Its chief process (strategy's; one
    process without a strategy) first refuses a run that another process trains, before any
    data is read (a folder's decoding, a download): UserError.
    """
    if devices.is_chief(strategy):  # (the other workers train alongside the chief that holds it)
        rundir.RunLock.refuse_if_held(config["logdir"])
    if config["dataset"] in DOWNLOADED:  # before a download of data the run would refuse (the
        rundir.check_recorded_data(config)  # other names' own errors, a missing folder say, come first)
    recorded = rundir.recorded_data_source(config["logdir"])
    if config["dataset"] == "mnist" and recorded and recorded.startswith("mnist_5k"):
        return load_mnist_5k()._replace(source=recorded)
    dataset = load_dataset(config["dataset"], config["data_dir"], config["image_size"])
    if config.get("cache_dir") and isinstance(dataset, ImageFolder):
        dataset = dataset._replace(cache_dir=config["cache_dir"])
    return dataset


def mnist_5k_heldout(labels):
    """A boolean mask of mnist_5k's held-out digits: the last 100 of each class."""
    mask = np.zeros(len(labels), bool)
    for digit in np.unique(labels):
        mask[np.flatnonzero(labels == digit)[-MNIST_5K_HELDOUT_PER_CLASS:]] = True
    return mask


def load_mnist_5k(split="train"):
    with np.load(MNIST_5K) as archive:
        images, labels = archive["images"][..., None], archive["labels"].astype(np.int64)
    if split == "test":
        heldout = mnist_5k_heldout(labels)
        return InMemory(images[heldout], labels[heldout], "mnist_5k (bundled, 1000 held-out digits)")
    return InMemory(images, labels, "mnist_5k (bundled, 5000 digits)")


def _download(name, fix, split):
    """A split of keras.datasets.<name>; a failed download raises UserError saying `fix`."""
    import keras

    try:
        train, test = getattr(keras.datasets, name).load_data()
    except Exception as error:  # keras reports a failed download as a bare Exception
        reason = first_line(error).split(" -- ")[-1][:100]
        raise UserError(f"{name} could not be downloaded ({reason}); {fix}") from None
    images, labels = train if split == "train" else test
    return images, labels.reshape(-1).astype(np.int64)


def _load_mnist(data_dir, split):
    if data_dir:
        local = pathlib.Path(data_dir) / "mnist.npz"
        if not local.is_file():
            raise UserError(f"--data_dir: {local} not found; put the keras mnist.npz there")
        with np.load(local) as archive:
            images, labels = archive[f"x_{split}"], archive[f"y_{split}"].astype(np.int64)
        return InMemory(images[..., None], labels, f"mnist ({local}, {split} split)")
    try:
        images, labels = _download("mnist", f"put mnist.npz in {KERAS_CACHE} or pass --data_dir", split)
    except UserError as error:
        print(
            f"WARNING: {error}.\nWARNING: using the bundled mnist_5k instead (5,000 real digits).",
            file=sys.stderr,
        )
        fallback = load_mnist_5k(split)
        return fallback._replace(source=fallback.source + ", fallback: mnist download failed")
    return InMemory(images[..., None], labels, f"mnist (keras.datasets, {split} split)")


FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _load_fashion_mnist(data_dir, split):
    image_file, label_file = FASHION_FILES[split]
    if data_dir:
        folder = pathlib.Path(data_dir)
        missing = [name for name in (image_file, label_file) if not (folder / name).is_file()]
        if missing:
            raise UserError(f"--data_dir: {folder / missing[0]} not found; put the Fashion-MNIST .gz files there")
        with gzip.open(folder / label_file) as f:
            labels = np.frombuffer(f.read(), np.uint8, offset=8)
        with gzip.open(folder / image_file) as f:
            images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(len(labels), 28, 28)
        return InMemory(images[..., None], labels.astype(np.int64), f"fashion_mnist ({folder}, {split} split)")
    fix = f"put {image_file} and {label_file} in a folder and pass --data_dir=FOLDER"
    images, labels = _download("fashion_mnist", fix, split)
    return InMemory(images[..., None], labels, f"fashion_mnist (keras.datasets, {split} split)")


def _load_cifar10(data_dir, split):
    if data_dir:
        folder = pathlib.Path(data_dir)
        if (folder / "cifar-10-batches-py").is_dir():
            folder = folder / "cifar-10-batches-py"
        names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        missing = [folder / name for name in names if not (folder / name).is_file()]
        if missing:
            raise UserError(f"--data_dir: {missing[0]} not found; extract cifar-10-python.tar.gz there")
        images, labels = [], []
        for name in names:
            with open(folder / name, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            images.append(batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.append(np.asarray(batch[b"labels"]))
        return InMemory(
            np.concatenate(images), np.concatenate(labels).astype(np.int64), f"cifar10 ({folder}, {split} split)"
        )
    fix = "extract cifar-10-python.tar.gz (it holds cifar-10-batches-py/) and pass --data_dir=FOLDER"
    images, labels = _download("cifar10", fix, split)
    return InMemory(images, labels, f"cifar10 (keras.datasets, {split} split)")


IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # JPEG, PNG
SHOWN_FILES = 3  # files named in each start-up warning about a folder
BACKGROUND = 255  # transparent pixels are composited onto white (255, 255, 255)


def load_folder(path, image_size):
    """Every .jpg/.jpeg/.png under `path`, as a file list that make_batches reads as it trains.

    Only each file's header is read here (with Pillow), so memory does not grow with the
    folder and training starts at once. A file that is not a JPEG or PNG, or whose header
    Pillow cannot read, is skipped, with one warning that counts them; a file whose header
    is sound but whose data is broken is dropped when it is read. The header gives each
    image's EXIF orientation, which decoding applies, and its size: images whose shorter
    side is below image_size are upscaled by the resize, and one more warning counts them.
    """
    if not str(path).strip():  # "folder:" alone would be the working directory
        raise UserError("--dataset=folder: needs the folder's path, as in --dataset=folder:/data/faces")
    root = pathlib.Path(path)
    if not root.is_dir():
        raise UserError(f"folder dataset: {root} is not a directory")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise UserError(f"folder dataset: no .jpg/.jpeg/.png files under {root}")
    not_utf8 = [file for file in files if not is_utf8(str(file))]
    if not_utf8:
        said = (f"{len(not_utf8)} of {len(files)} files whose names are not UTF-8 text, which TensorFlow cannot open "
                f"({named([os.fsencode(file).decode(errors='backslashreplace') for file in not_utf8])}); rename them")
        if len(not_utf8) == len(files):
            raise UserError(f"folder dataset: {said}")
        print(f"WARNING: folder dataset: skipping {said}", file=sys.stderr)
        files = [file for file in files if is_utf8(str(file))]
    readable, orientations, unreadable, small = [], [], [], []
    for file in files:
        header = read_header(file)
        if header is None:
            unreadable.append(file)
            continue
        width, height, orientation = header
        readable.append(file)
        orientations.append(orientation)
        if min(width, height) < image_size:
            small.append(file)
    if not readable:
        raise UserError(f"folder dataset: cannot read any image under {root} ({len(files)} files, e.g. {files[0]})")
    if unreadable:
        print(f"WARNING: folder dataset: skipping {len(unreadable)} of {len(files)} files that are not "
              f"readable JPEG or PNG images ({named(unreadable)})", file=sys.stderr)
    if small:
        print(f"WARNING: folder dataset: {len(small)} of {len(readable)} images have a side shorter than "
              f"{image_size} and are upscaled to {image_size}x{image_size} ({named(small)})", file=sys.stderr)
    source = f"folder {root.resolve()} ({len(readable)} images, {image_size}x{image_size})"
    return ImageFolder(tuple(str(file) for file in readable), tuple(orientations), image_size, source)


def named(files):
    """The first few of `files`, for a warning: "a.jpg, b.jpg, c.jpg, ..."."""
    more = ", ..." if len(files) > SHOWN_FILES else ""
    return ", ".join(str(file) for file in files[:SHOWN_FILES]) + more


def read_header(file):
    """(width, height, EXIF orientation 1..8) of a JPEG or PNG as stored, from its header only;
    None if the file is not one (by its first bytes), cannot be opened, or its header cannot
    be read (which includes Pillow's refusal of images over 179 million pixels, 2 x
    Image.MAX_IMAGE_PIXELS, as possible decompression bombs)."""
    try:
        with open(file, "rb") as f:
            if not f.read(8).startswith(IMAGE_SIGNATURES):
                return None
            f.seek(0)
            with Image.open(f) as image:  # parses the header; the pixels are not decoded
                return (*image.size, exif_orientation(image))
    except Exception:  # OSError, or whichever error a Pillow parser raises on a broken header
        return None


def exif_orientation(image):
    """The EXIF orientation tag of an opened Pillow image, 1..8; 1 (as stored) without one.

    A JPEG's EXIF comes before its pixels. A PNG's eXIf chunk counts only when it does too,
    as browsers read it; asking Pillow for a later one would decode the whole image.
    """
    if "exif" not in image.info:
        return 1
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a damaged EXIF block (Pillow raises many kinds): the image is used as stored
        return 1
    return orientation if orientation in range(1, 9) else 1


def folder_decoder(dataset):
    """path -> uint8 [size, size, 3] for a folder's files: decode_image with each file's orientation.

    The orientations read by load_folder are looked up by path in a table, so that a pipeline
    of paths (streamed, cached, or a subset) decodes every file the same way.
    """
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(list(dataset.files), np.asarray(dataset.orientations, np.int32)),
        default_value=1)

    @as_written
    def decode(path):
        path = tf.convert_to_tensor(path, tf.string)
        return decode_image(path, dataset.image_size, table.lookup(path))

    return decode


def decode_image(path, size, orientation):
    """A JPEG or PNG file -> uint8 [size, size, 3]: decoded, turned upright by its EXIF orientation
    (1..8), transparent pixels composited onto white, centre-cropped to a square, resized (bicubic).

    Decoding is TensorFlow's (libjpeg-turbo, libpng), so it runs on tf.data's threads. A PNG is
    decoded with an alpha channel, which libpng makes from RGBA, grey+alpha, and a tRNS chunk
    (a palette's transparent entries, or the one transparent grey or RGB value); 16-bit PNGs
    are scaled to 8 bits.
    """
    contents = tf.io.read_file(path)
    image = tf.cond(tf.io.is_jpeg(contents),
                    lambda: tf.io.decode_jpeg(contents, channels=3),
                    lambda: on_background(tf.io.decode_png(contents, channels=4)))
    return crop_and_resize(upright(image, orientation), size)


def on_background(image):
    """uint8 RGBA [H, W, 4] -> uint8 RGB [H, W, 3] composited onto BACKGROUND:
    round((rgb * alpha + BACKGROUND * (255 - alpha)) / 255), exact in integers, so that
    alpha 255 keeps a pixel and alpha 0 gives the background whatever colour lies under it."""
    rgb, alpha = tf.cast(image[..., :3], tf.int32), tf.cast(image[..., 3:], tf.int32)
    mixed = (rgb * alpha + BACKGROUND * (255 - alpha) + 127) // 255
    return tf.cast(mixed, tf.uint8)


def upright(image, orientation):
    """[H, W, C] as stored -> as meant to be seen, for EXIF orientation 1..8 (a scalar int32 tensor).

    The eight orientations are the four flips of the image and of its transpose (EXIF 2.32,
    tag 0x0112): 5..8 transpose first (swap rows and columns), then 2, 3, 6, 7 mirror left to
    right and 3, 4, 7, 8 upside down; the same as PIL.ImageOps.exif_transpose.
    """
    image = tf.cond(orientation >= 5, lambda: tf.transpose(image, [1, 0, 2]), lambda: image)
    mirror = tf.reduce_any(tf.equal(orientation, [2, 3, 6, 7]))
    image = tf.cond(mirror, lambda: tf.reverse(image, [1]), lambda: image)
    flip = tf.reduce_any(tf.equal(orientation, [3, 4, 7, 8]))
    return tf.cond(flip, lambda: tf.reverse(image, [0]), lambda: image)


def count_decodable(dataset, shard, shards, enough):
    """How many of a folder's share of files decode, counting up to `enough`.

    Decodes the share's files in order until `enough` have decoded, usually a batch's worth,
    so that a folder whose files have sound headers but too few decodable images stops at
    start-up (require_a_batch) rather than after the run directory is written.
    """
    files = tf.data.Dataset.from_tensor_slices(list(dataset.files[shard::shards]))
    images = files.map(folder_decoder(dataset), num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
    return int(images.take(enough).reduce(0, as_written(lambda count, image: count + 1)))


def check_decodable(dataset, batch_size, shards=1, shard=0):
    """For a folder, raises the one-line --batch_size error if fewer than batch_size of this
    input pipeline's images decode (with --cache_dir, building the cache to count them).

    make_batches calls it at once, so that the error comes before the run writes anything:
    the pipeline itself is built later, at the first batch.
    """
    if not isinstance(dataset, ImageFolder):
        return
    if dataset.cache_dir:
        decoded = image_cache.cached_images(dataset.files[shard::shards], dataset.image_size, dataset.cache_dir,
                                            folder_decoder(dataset)).count
    else:
        decoded = count_decodable(dataset, shard, shards, batch_size)
    require_a_batch(batch_size, decoded, dataset.count, shards)


def require_a_batch(batch_size, decoded, count, shards):
    """Raises the one-line --batch_size error when fewer than batch_size of a folder's images decode."""
    if decoded < batch_size:
        share = f" in this one of {shards} input pipelines" if shards > 1 else ""
        raise UserError(f"--batch_size={batch_size} is larger than the dataset ({count} images, "
                        f"of which {decoded} decode{share})")


def crop_and_resize(image, size):
    """uint8 [H, W, C] -> uint8 [size, size, C]: the centre square, resized (bicubic, antialiased).

    An image that is already size x size is returned as it is.
    """
    if image.shape[0] == size and image.shape[1] == size:
        return image
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    side = tf.minimum(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top:top + side, left:left + side]
    resized = tf.image.resize(square, [size, size], method="bicubic", antialias=True)
    rounded = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
    return tf.ensure_shape(rounded, [size, size, image.shape[-1]])


TFDS_SHUFFLE_BUFFER = 10_000  # examples; TFDS shuffles its files, and each file at preparation


def load_tfds(name, data_dir, image_size, split):
    """A TensorFlow Datasets set that commands/prepare.py prepared (in --data_dir or TFDS's default).

    Nothing is downloaded here: an unprepared set is a one-line error that says how to
    prepare it, rather than minutes of retries on a machine without internet.
    """
    import tensorflow_datasets as tfds

    where = data_dir or os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")
    with tfds_scratch():
        builder = tfds_builder(name, data_dir)
        features = builder.info.features
        if "image" not in features:
            raise UserError(f"tfds:{name} has no 'image' feature to train on")
        try:
            size = int(builder.as_dataset(split=split).cardinality())
        except (AssertionError, KeyError):  # TFDS's ways of saying the data is not there (KeyError: no splits)
            raise UserError(f"tfds:{name} is not prepared in {where}; prepare it once (it downloads) with "
                            f"`python -m commands.prepare --dataset=tfds:{name} --data_dir={where}`")
        except ValueError as error:  # an unknown split
            raise UserError(f"tfds:{name} has no {split} split ({str(error).splitlines()[0][:100]})")
    label = features["label"] if "label" in features else None
    num_classes = label.num_classes if isinstance(label, tfds.features.ClassLabel) else 0
    channels = features["image"].shape[-1] or 3
    source = f"tfds:{name} ({where}, {split} split, {size} images, {image_size}x{image_size})"
    return TfdsSet(name, data_dir, split, size, image_size, channels, num_classes, source)


def check_data_dir(data_dir, tfds=False):
    """Refuses a data folder with a file at its path or at one of its parents' (else TFDS says
    "no internet" or starts a download, and the loaders say a file is not found): --data_dir,
    or for a TFDS set without one, the TFDS_DATA_DIR environment variable."""
    named, folder = ("--data_dir", data_dir)
    if tfds and not data_dir:
        named, folder = "TFDS_DATA_DIR", os.environ.get("TFDS_DATA_DIR")
    path = os.path.expanduser(folder) if folder else None
    blocking = file_in_the_way(path) if path else None
    if blocking:
        said = "" if blocking == path else f" is under {blocking}, which"
        raise UserError(f"{named}={folder}{said} is a file, not a folder")


def tfds_builder(name, data_dir):
    """TFDS's builder for NAME (a set, with an optional /config and :version), or the one-line
    UserError for a name TFDS cannot build: an unknown set, a malformed name, a config or
    version the set does not have. Use it inside tfds_scratch()."""
    import tensorflow_datasets as tfds

    check_data_dir(data_dir, tfds=True)
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise UserError(f"tfds:{name} is not a TFDS dataset; `tfds build --help` and the TFDS catalog "
                        "list them") from None
    except (ValueError, AssertionError, TypeError) as error:
        reason = first_line(error)
        reason = reason.rpartition('": ')[2] or reason  # after TFDS's 'Failed to construct dataset "x", ...": '
        raise UserError(f"tfds:{name} is not a set TFDS can build ({reason[:200]})") from None


@contextlib.contextmanager
def tfds_scratch():
    """Runs the block with Python's temporary folder set to one that is removed at its end.

    TFDS's builder for a set that is not prepared yet copies the set's metadata into a
    folder of its own (tempfile.mkdtemp in DatasetInfo.initialize_from_bucket) and never
    removes it, so every refused start and every prepare would leave one in TMPDIR. Use it
    around everything that uses such a builder: the metadata is read from there lazily.
    """
    with tempfile.TemporaryDirectory(prefix="tfds-scratch-") as scratch, temporary_files_in(scratch):
        yield


def tfds_examples(dataset, split=None, seed=None, context=None):
    """A TFDS set as a tf.data.Dataset of (uint8 image, int32 label), cropped and resized.

    With a seed its files are read in a shuffled order (reshuffled each epoch); with an
    InputContext each input pipeline reads its own share of the files.
    """
    import tensorflow_datasets as tfds

    read_config = tfds.ReadConfig(shuffle_seed=seed, input_context=context)
    examples = tfds.builder(dataset.name, data_dir=dataset.data_dir).as_dataset(
        split=split or dataset.split, shuffle_files=seed is not None, read_config=read_config)
    size, labelled = dataset.image_size, dataset.num_classes > 0

    @as_written
    def pair(example):
        label = tf.cast(example["label"], tf.int32) if labelled else tf.constant(0, tf.int32)
        return crop_and_resize(example["image"], size), label

    return examples.map(pair, num_parallel_calls=tf.data.AUTOTUNE)


def read_images(dataset, count, seed=0):
    """`count` images of a dataset (at most all of them), in memory: uint8 [count, H, W, C].

    For a folder, a random subset of its files is decoded; the rest stays on disk. For a
    TFDS set, the first `count` (TFDS shuffles a set when it prepares it).
    """
    if isinstance(dataset, TfdsSet):
        split = f"{dataset.split}[:{min(count, dataset.count)}]"
        return np.stack([image for image, _ in tfds_examples(dataset, split).as_numpy_iterator()])
    rng = np.random.default_rng(seed)
    chosen = rng.choice(dataset.count, min(count, dataset.count), replace=False)
    if isinstance(dataset, InMemory):
        return dataset.images[chosen]
    files = tf.data.Dataset.from_tensor_slices([dataset.files[index] for index in chosen])
    images = files.map(folder_decoder(dataset), num_parallel_calls=tf.data.AUTOTUNE)
    return np.stack(list(images.ignore_errors().as_numpy_iterator()))


def scale_images(images):
    """uint8 0..255 -> float32 in [-1, 1], the range of the generator's tanh output."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


class RunFacts(NamedTuple):
    """What a run learns at start from its data, apart from the flags (which say what was asked)."""

    data_source: str  # where the images came from ("mnist_5k (bundled, 5000 digits)", ...)
    image_shape: tuple  # (H, W, C) of the images it trains on
    num_classes: int = 0  # with --conditional, the classes G and D read; 0 without

    def recorded(self):
        """The facts as config.json records them over the flags (num_classes only when conditional).

        image_size is the side the run trains at: the flag's value where the dataset has a
        size of its own (mnist: the flag's 64) would not be true of the run (28).
        """
        record = {"data_source": self.data_source, "image_shape": list(self.image_shape),
                  "image_size": int(self.image_shape[0])}
        return {**record, "num_classes": self.num_classes} if self.num_classes else record


def run_facts(dataset, conditional):
    """The RunFacts of a run on `dataset`; with --conditional, UserError for data without labels."""
    if conditional and not dataset.num_classes:
        raise UserError(f"--conditional needs class labels, and {dataset.source} has none")
    return RunFacts(dataset.source, tuple(dataset.image_shape), dataset.num_classes if conditional else 0)


class Batches:
    """An endless iterator of (images, labels) batches that counts the batches it has given.

    `position` (a tf.Variable, int64) is that count: a run keeps it in its checkpoint
    (common/training_run.py). The input pipeline is built at the first `next`, to start at
    `position`, so a resumed run, which restores the variable after make_batches, goes on
    with the batch after the last one it trained on. A position changed after that (by a
    restore) rebuilds the pipeline there.
    """

    def __init__(self, build, position):
        self.position = position
        self._build = build  # start (batches already given) -> an iterator of the batches after them
        self._iterator, self._given = None, None

    def __iter__(self):
        return self

    def __next__(self):
        given = int(self.position.numpy())
        if self._iterator is None or given != self._given:
            self._iterator = self._build(given)
        batch = next(self._iterator)
        self.position.assign_add(1)
        self._given = given + 1
        return batch


def make_batches(dataset, batch_size, seed, strategy=None):
    """An endless Batches iterator of shuffled (images, labels) batches from a dataset
    (InMemory, ImageFolder or TfdsSet).

    images: float32 [batch_size, H, W, C] in [-1, 1]; labels: int32 [batch_size] (all 0
    when the dataset has none). Every batch is full (drop_remainder) so that the
    tf.function steps see one static shape and trace once. Each epoch is a fresh
    permutation, fixed by (seed, epoch) alone (`epoch_order`), so that the batches after
    any position can be made again without the ones before it. A folder or TFDS set
    streams: files are read in that order and decoded, cropped and resized on tf.data's
    parallel threads as training goes, so memory does not depend on the number of images.

    With a tf.distribute strategy of several replicas, batch_size is the global batch:
    each input pipeline (one per worker) reads a disjoint share of the data (of the files,
    for a folder or TFDS set) and makes the batches of its own replicas.
    Raises UserError at once if a batch is larger than the data it is drawn from.
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    pipelines, pipeline = _input_pipelines(strategy)
    check_batch_size(dataset, batch_size // replicas, pipelines, pipeline)
    check_decodable(dataset, batch_size // replicas, pipelines, pipeline)
    with strategy.scope():
        position = tf.Variable(0, dtype=tf.int64, trainable=False)
    if replicas == 1:
        return Batches(lambda start: iter(worker_batches(dataset, batch_size, seed, start=start)), position)

    def build(start):
        def per_worker(context):
            # Each global batch takes one batch from this pipeline for each of its replicas.
            replicas_here = context.num_replicas_in_sync // context.num_input_pipelines
            return worker_batches(dataset, context.get_per_replica_batch_size(batch_size), seed,
                                  context.num_input_pipelines, context.input_pipeline_id, start * replicas_here)

        return iter(strategy.distribute_datasets_from_function(per_worker))

    return Batches(build, position)


def _input_pipelines(strategy):
    """(number of input pipelines, this process's) under `strategy`: one per worker."""
    from common import devices

    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or resolver.task_type is None:
        return 1, 0
    cluster = resolver.cluster_spec().as_dict()
    return len(cluster.get("chief", [])) + len(cluster.get("worker", [])), devices.worker_index(strategy)


def check_batch_size(dataset, batch_size, shards=1, shard=0):
    """Raises UserError if input pipeline `shard` of `shards` holds fewer than batch_size images."""
    share = -(-(dataset.count - shard) // shards)  # elements shard, shard + shards, ...
    if batch_size > share:
        raise UserError(f"--batch_size is larger than the dataset ({dataset.count} images, {share} for each "
                        f"of {shards} input pipelines)" if shards > 1 else
                        f"--batch_size={batch_size} is larger than the dataset ({dataset.count} images)")
    return share


MAX_INPUT_PIPELINES = 1 << 16  # workers; each pipeline's epochs get seeds of their own


def epoch_order(count, batch_size, seed, stream=0, start=0):
    """Endless batches of indices into `count` elements, each epoch a fresh permutation.

    A tf.data.Dataset of int64 [batch_size]: epoch e is the permutation of 0..count-1 that
    tf.random.experimental.stateless_shuffle gives for the seed (seed, e, stream), made when
    the epoch begins, cut into count // batch_size batches; the last count % batch_size of
    each permutation are left out, as drop_remainder leaves them. Starts at batch `start`
    (0: the first of epoch 0): a resumed run's first epoch is the same permutation cut
    after the batches it trained on, which are never read.
    """
    per_epoch = count // batch_size * batch_size
    start_epoch, first = divmod(start * batch_size, per_epoch)

    @as_written
    def epoch(number):
        epoch_seed = tf.stack([tf.constant(seed, tf.int64), number * MAX_INPUT_PIPELINES + stream])
        permutation = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), epoch_seed)
        begin = tf.where(number == start_epoch, tf.constant(first, tf.int64), tf.constant(0, tf.int64))
        return tf.data.Dataset.from_tensor_slices(permutation[begin:per_epoch])

    # Each epoch holds whole batches, so a batch never spans two epochs.
    return tf.data.Dataset.counter(start_epoch).flat_map(epoch).batch(batch_size, drop_remainder=True)


def worker_batches(dataset, batch_size, seed, shards=1, shard=0, start=0):
    """The batches of one input pipeline: shard `shard` of `shards` of the data, shuffled,
    from its batch `start` on (0: the first; a resumed run passes the batches it has used)."""
    check_batch_size(dataset, batch_size, shards, shard)
    pairs = dataset.pipeline(batch_size, seed, shards, shard, start)  # uint8 images, int32 labels
    pairs = pairs.map(as_written(lambda images, labels: (scale_images(images), labels)),
                      num_parallel_calls=tf.data.AUTOTUNE)
    return pairs.prefetch(tf.data.AUTOTUNE).with_options(without_autotuning())


def without_autotuning():
    """tf.data options that turn its autotuning off: AUTOTUNE then keeps TensorFlow's fixed
    starting values, and no tuning thread is started.

    That thread (Model::OptimizeLoop) sleeps on a timer that grows toward a minute as a
    pipeline lives, and an iterator freed meanwhile waits for it while holding Python's
    lock: a process that trains several runs (a figure script's, a notebook's, the tests')
    stood still for 15-55 s at a time. The streamed folder pipeline kept its rate
    (docs/data.md); the in-memory one is far faster than any step.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def memory_batches(dataset, batch_size, seed, shards=1, shard=0, start=0):
    """An InMemory dataset's uint8 batches for one input pipeline (its elements shard, shard +
    shards, ...), in epoch_order, from its batch `start` on."""
    images = tf.constant(dataset.images[shard::shards])
    labels = np.zeros(len(images), np.int32) if dataset.labels is None else dataset.labels[shard::shards]
    labels = tf.constant(np.asarray(labels, np.int32))
    order = epoch_order(len(images), batch_size, seed, shard, start)
    return order.map(as_written(lambda indices: (tf.gather(images, indices), tf.gather(labels, indices))))


def folder_batches(dataset, batch_size, seed, shards=1, shard=0, start=0):
    """An ImageFolder's uint8 batches for one input pipeline (its files shard, shard + shards,
    ...), in epoch_order, from its batch `start` on: read from its --cache_dir when it has one,
    else decoded file by file (make_batches has checked that a batch of this share decodes,
    check_decodable); files that fail to decode are left out. Labels are all 0."""
    if dataset.cache_dir:
        cached = image_cache.cached_images(dataset.files[shard::shards], dataset.image_size, dataset.cache_dir,
                                           folder_decoder(dataset))
        require_a_batch(batch_size, cached.count, dataset.count, shards)
        return image_cache.read_batches(cached, epoch_order(cached.count, batch_size, seed, shard, start))
    # Indices first, files second: the skipped files of a resumed run are never opened.
    files = tf.constant(list(dataset.files[shard::shards]))
    indices = epoch_order(len(files), batch_size, seed, shard, start).unbatch()
    paths = indices.map(as_written(lambda index: files[index]))
    images = paths.map(folder_decoder(dataset), num_parallel_calls=tf.data.AUTOTUNE)
    pairs = images.ignore_errors().map(as_written(lambda image: (image, tf.constant(0, tf.int32))))
    return pairs.batch(batch_size, drop_remainder=True)


def tfds_batches(dataset, batch_size, seed, shards=1, shard=0, start=0):
    """A TFDS set's batches for one input pipeline, from its batch `start` on.

    TFDS reads a set from files in sequence, so it has no random access: epoch e reads the
    pipeline's files in the order ReadConfig(shuffle_seed) gives for a seed made of (seed,
    e) and shuffles their examples in a buffer seeded the same way, which makes the epoch
    the same every time it is read. A resumed run reads its epoch again up to where it
    stopped without decoding those images (they are skipped still encoded), then goes on.
    """
    import tensorflow_datasets as tfds

    builder = tfds.builder(dataset.name, data_dir=dataset.data_dir)
    image_feature, size, labelled = builder.info.features["image"], dataset.image_size, dataset.num_classes > 0
    context = tf.distribute.InputContext(shards, shard) if shards > 1 else None

    def examples(epoch_seed):
        read_config = tfds.ReadConfig(shuffle_seed=epoch_seed, input_context=context)
        return builder.as_dataset(split=dataset.split, shuffle_files=True, read_config=read_config,
                                  decoders={"image": tfds.decode.SkipDecoding()})

    per_epoch = int(examples(seed).cardinality()) // batch_size  # this pipeline's share of the files
    if per_epoch < 1:
        raise UserError(f"--batch_size is larger than the images of {dataset.source}'s files that an input "
                        "pipeline reads")
    start_epoch, skipped = divmod(start, per_epoch)

    @as_written
    def epoch(number):
        # The epoch's seed is the whole seed of its two shuffles: without this, a global seed
        # (keras.utils.set_random_seed) would be mixed in, and tf.data cannot mix it with a tensor.
        tf.compat.v1.get_default_graph().seed = None  # this function's own graph only
        epoch_seed = seed * 1_000_003 + number  # one seed per epoch, for the files and the buffer
        skip = tf.where(number == start_epoch, tf.constant(skipped * batch_size, tf.int64), tf.constant(0, tf.int64))
        whole_batches = examples(epoch_seed).shuffle(TFDS_SHUFFLE_BUFFER, seed=epoch_seed).take(per_epoch * batch_size)
        return whole_batches.skip(skip)

    @as_written
    def pair(example):
        image = crop_and_resize(image_feature.decode_example(example["image"]), size)
        label = tf.cast(example["label"], tf.int32) if labelled else tf.constant(0, tf.int32)
        return image, label

    pairs = tf.data.Dataset.counter(start_epoch).flat_map(epoch).map(pair, num_parallel_calls=tf.data.AUTOTUNE)
    return pairs.batch(batch_size, drop_remainder=True)
