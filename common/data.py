"""Datasets and the tf.data input pipeline.

`load_dataset` returns every dataset the same way: uint8 images of shape
[N, H, W, C] in 0..255, integer labels (or None), and a short `source` string
that says where the images came from; the run's config.json records it.

Dataset names:
  mnist, fashion_mnist, cifar10   downloaded by keras.datasets into ~/.keras/datasets,
                                  or read from --data_dir
  mnist_5k                        5,000 real MNIST digits bundled in common/assets
  folder:PATH                     every .jpg/.jpeg/.png under PATH, centre-cropped to a
                                  square and resized to image_size x image_size, RGB
"""
import gzip
import os
import pathlib
import pickle
import sys
from typing import NamedTuple, Optional

import numpy as np
import tensorflow as tf

from common.runs import UserError

NAMES = ("mnist", "fashion_mnist", "cifar10", "mnist_5k", "folder:PATH")
MNIST_5K = pathlib.Path(__file__).resolve().parent / "assets" / "mnist_5k.npz"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
KERAS_CACHE = pathlib.Path(os.environ.get("KERAS_HOME", pathlib.Path.home() / ".keras")) / "datasets"


class Dataset(NamedTuple):
    images: np.ndarray  # uint8 [N, H, W, C], 0..255
    labels: Optional[np.ndarray]  # int [N] or None
    source: str  # where the images came from, for config.json


def load_dataset(name, data_dir=None, image_size=64):
    """Loads a dataset by name; raises UserError with a one-line fix when it cannot."""
    if name == "mnist":
        return _load_mnist(data_dir)
    if name == "fashion_mnist":
        return _load_fashion_mnist(data_dir)
    if name == "cifar10":
        return _load_cifar10(data_dir)
    if name == "mnist_5k":
        return load_mnist_5k()
    if name.startswith("folder:"):
        return load_folder(name[len("folder:"):], image_size)
    raise UserError(f"unknown dataset {name!r}; choose one of: {', '.join(NAMES)}")


def load_mnist_5k():
    with np.load(MNIST_5K) as archive:
        images, labels = archive["images"], archive["labels"]
    return Dataset(images[..., None], labels.astype(np.int64), "mnist_5k (bundled, 5000 digits)")


def _download(name, fix):
    """The training split from keras.datasets.<name>; a failed download raises UserError saying `fix`."""
    import keras

    try:
        (images, labels), _ = getattr(keras.datasets, name).load_data()
    except Exception as error:  # keras reports a failed download as a bare Exception
        reason = (str(error).splitlines() or [type(error).__name__])[0].split(" -- ")[-1][:100]
        raise UserError(f"{name} could not be downloaded ({reason}); {fix}") from None
    return images, labels.reshape(-1).astype(np.int64)


def _load_mnist(data_dir):
    if data_dir:
        local = pathlib.Path(data_dir) / "mnist.npz"
        if not local.is_file():
            raise UserError(f"--data_dir: {local} not found; put the keras mnist.npz there")
        with np.load(local) as archive:
            images, labels = archive["x_train"], archive["y_train"].astype(np.int64)
        return Dataset(images[..., None], labels, f"mnist ({local}, train split)")
    try:
        images, labels = _download("mnist", f"put mnist.npz in {KERAS_CACHE} or pass --data_dir")
    except UserError as error:
        print(
            f"WARNING: {error}.\nWARNING: training on the bundled mnist_5k instead (5,000 real digits).",
            file=sys.stderr,
        )
        fallback = load_mnist_5k()
        return fallback._replace(source=fallback.source + ", fallback: mnist download failed")
    return Dataset(images[..., None], labels, "mnist (keras.datasets, train split)")


FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")


def _load_fashion_mnist(data_dir):
    if data_dir:
        folder = pathlib.Path(data_dir)
        missing = [name for name in FASHION_FILES if not (folder / name).is_file()]
        if missing:
            raise UserError(f"--data_dir: {folder / missing[0]} not found; put the Fashion-MNIST .gz files there")
        with gzip.open(folder / FASHION_FILES[1]) as f:
            labels = np.frombuffer(f.read(), np.uint8, offset=8)
        with gzip.open(folder / FASHION_FILES[0]) as f:
            images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(len(labels), 28, 28)
        return Dataset(images[..., None], labels.astype(np.int64), f"fashion_mnist ({folder}, train split)")
    fix = f"put {' and '.join(FASHION_FILES)} in a folder and pass --data_dir=FOLDER"
    images, labels = _download("fashion_mnist", fix)
    return Dataset(images[..., None], labels, "fashion_mnist (keras.datasets, train split)")


def _load_cifar10(data_dir):
    if data_dir:
        folder = pathlib.Path(data_dir)
        if (folder / "cifar-10-batches-py").is_dir():
            folder = folder / "cifar-10-batches-py"
        batches = [folder / f"data_batch_{i}" for i in range(1, 6)]
        missing = [path for path in batches if not path.is_file()]
        if missing:
            raise UserError(f"--data_dir: {missing[0]} not found; extract cifar-10-python.tar.gz there")
        images, labels = [], []
        for path in batches:
            with open(path, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            images.append(batch[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.append(np.asarray(batch[b"labels"]))
        return Dataset(np.concatenate(images), np.concatenate(labels).astype(np.int64), f"cifar10 ({folder}, train split)")
    fix = "extract cifar-10-python.tar.gz (it holds cifar-10-batches-py/) and pass --data_dir=FOLDER"
    images, labels = _download("cifar10", fix)
    return Dataset(images, labels, "cifar10 (keras.datasets, train split)")


def load_folder(path, image_size):
    """Reads every image under `path` into memory as uint8 [N, size, size, 3]."""
    from PIL import Image, UnidentifiedImageError

    root = pathlib.Path(path)
    if not root.is_dir():
        raise UserError(f"folder dataset: {root} is not a directory")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise UserError(f"folder dataset: no .jpg/.jpeg/.png files under {root}")
    images = np.empty((len(files), image_size, image_size, 3), np.uint8)
    for index, file in enumerate(files):
        try:
            with Image.open(file) as image:
                images[index] = _centre_crop_resize(image.convert("RGB"), image_size)
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise UserError(f"folder dataset: cannot read image {file}: {error}") from None
    return Dataset(images, None, f"folder {root.resolve()} ({len(files)} images, {image_size}x{image_size})")


def _centre_crop_resize(image, size):
    from PIL import Image

    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((size, size), Image.Resampling.BICUBIC))


def scale_images(images):
    """uint8 0..255 -> float32 in [-1, 1], the range of the generator's tanh output."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def make_batches(images, batch_size, seed):
    """An endless iterator of shuffled float32 batches [batch_size, H, W, C] in [-1, 1].

    Every batch is full (drop_remainder) so that the tf.function steps see one
    static shape and trace once. The data reshuffles each epoch.
    """
    if batch_size > len(images):
        raise UserError(f"--batch_size={batch_size} is larger than the dataset ({len(images)} images)")
    dataset = tf.data.Dataset.from_tensor_slices(images)
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    dataset = dataset.map(scale_images, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.repeat().prefetch(tf.data.AUTOTUNE)
    return iter(dataset)
