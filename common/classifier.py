"""A small digit / clothing classifier that the repo trains itself: the feature extractor
for evaluating 28x28 samples offline (classifier FD, classifier KID, classifier score,
class coverage).

It trains on the dataset's training images (for mnist_5k: all but the last 100 digits
of each class) and reports its accuracy on the held-out images. The weights are kept under a
key made of the training data, this file's source, the seed and the epochs, so the same
inputs give the same classifier without retraining, and any change retrains it. The
mnist_5k classifier comes with the repository (BUNDLED, made by scripts/bundle_classifier.py):
the same weights on every machine, so the same samples score the same there, and nothing to
train offline. The others train on first use and are cached on disk (CACHE_DIR).
"""
import hashlib
import json
import os
import pathlib
import sys

import numpy as np

from common import data, image_cache
from common.cli import UserError, os_error_message

FEATURE_LAYER = "features"
EPOCHS = {"mnist_5k": 15}  # small data: more passes; about 20 s on 2 CPU cores
DEFAULT_EPOCHS = 3  # 60,000 images: about a minute on 2 CPU cores
CACHE_DIR = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) / "gan-reference"
BUNDLED = pathlib.Path(__file__).resolve().parent / "assets"  # classifier-NAME-KEY.weights.h5 and .json


def make_classifier(num_classes=10):
    """images [N, 28, 28, 1] in [-1, 1] -> logits [N, num_classes]; its 'features' layer has 128 units."""
    import keras
    from keras import layers

    images = keras.Input((28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu")(images)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", name=FEATURE_LAYER)(x)
    logits = layers.Dense(num_classes)(layers.Dropout(0.3)(x))
    return keras.Model(images, logits, name="classifier")


def training_and_heldout(name, data_dir=None):
    """(train images, train labels, held-out images, held-out labels) as uint8 / int arrays."""
    if name not in ("mnist", "fashion_mnist", "mnist_5k"):
        raise UserError(f"the digit classifier covers mnist, fashion_mnist and mnist_5k, not {name}")
    train = data.load_dataset(name, data_dir)
    if train.source.startswith("mnist_5k"):  # also mnist's offline fallback
        heldout = data.mnist_5k_heldout(train.labels)
        return train.images[~heldout], train.labels[~heldout], train.images[heldout], train.labels[heldout]
    test = data.load_dataset(name, data_dir, split="test")
    return train.images, train.labels, test.images, test.labels


class Classifier:
    """A trained classifier. embed(uint8 images [N, 28, 28, 1]) -> (features [N, 128], probabilities [N, K])."""

    def __init__(self, model, heldout_accuracy):
        import keras

        self.model = model
        self.heldout_accuracy = heldout_accuracy
        self._both = keras.Model(model.input, [model.get_layer(FEATURE_LAYER).output, model.output])

    def embed(self, images, batch_size=1000):
        features, logits = [], []
        for start in range(0, len(images), batch_size):
            feature, logit = self._both(data.scale_images(images[start:start + batch_size]), training=False)
            features.append(feature.numpy())
            logits.append(logit.numpy())
        logits = np.concatenate(logits).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)  # a stable softmax
        return np.concatenate(features), np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def load_or_train(name, data_dir=None, seed=0, cache_dir=CACHE_DIR, epochs=None, verbose=True, splits=None,
                  bundled=True):
    """The classifier for dataset `name`, from the cache or trained now (seeded).

    splits: training_and_heldout(name, data_dir), if the caller has it already. The bundled
    classifier (BUNDLED) of the same key is used first (bundled=False: not), then the cache's.
    """
    splits = splits or training_and_heldout(name, data_dir)
    epochs = epochs or EPOCHS.get(name, DEFAULT_EPOCHS)
    entry = f"classifier-{name}-{entry_key(splits, seed, epochs)}"
    saved = BUNDLED / entry
    if bundled and any(os.path.lexists(saved.with_suffix(suffix)) for suffix in (".weights.h5", ".json")):
        try:
            return load_saved(splits, seed, saved)
        except Unreadable as error:  # a damaged checkout: the cache's, or one trained now, will do
            print(f"warning: the bundled {name} classifier is unreadable ({error}); using a cached or newly trained "
                  "one (`git checkout common/assets` restores it)", file=sys.stderr)
    stem = pathlib.Path(cache_dir) / entry
    stem.parent.mkdir(parents=True, exist_ok=True)
    # Runs (or test workers) that start together train the classifier once: the others wait
    # for the lock, then load what the first one saved.
    with image_cache.exclusive_lock(stem.with_suffix(".lock"), f"waiting for another process's {name} classifier"):
        return _load_or_fit(name, splits, seed, epochs, stem, verbose, cache_dir)


def entry_key(splits, seed, epochs):
    """16 hex digits of a hash of what decides the weights: the training images and labels
    (the first two of `splits`), this file's source (with Unix line ends, as a checkout that
    turns them into Windows' has it too), the seed and the epochs."""
    source = pathlib.Path(__file__).read_bytes().replace(b"\r\n", b"\n")
    key = hashlib.sha256()
    for part in (splits[0].tobytes(), splits[1].tobytes(), source):
        key.update(part)
    key.update(f"seed={seed} epochs={epochs}".encode())
    return key.hexdigest()[:16]


class Unreadable(Exception):
    """A saved classifier's files could not be read back (truncated, say): names the file and why."""


def load_saved(splits, seed, stem):
    """The classifier saved at STEM.weights.h5, with the held-out accuracy STEM.json records;
    Unreadable (one line) if either file is missing or cannot be read back."""
    import warnings

    import keras

    keras.utils.set_random_seed(seed)
    model = make_classifier(int(splits[1].max()) + 1)
    weights, record = stem.with_suffix(".weights.h5"), stem.with_suffix(".json")
    for path in (weights, record):
        if not os.path.lexists(path):
            raise Unreadable(f"{path} is missing")
    try:
        with warnings.catch_warnings():  # (Keras warns of each weight a damaged file lacks, then raises)
            warnings.simplefilter("ignore")
            model.load_weights(weights)
    except OSError as error:  # (h5py's: several lines of its internals, and no file named)
        said = os.strerror(error.errno) if error.errno else " ".join(str(error).split())
        raise Unreadable(f"{weights}: {said}") from None
    except ValueError:  # (Keras': every weight it could not find)
        raise Unreadable(f"{weights}: not this classifier's weights") from None
    try:
        accuracy = json.loads(record.read_text())["heldout_accuracy"]
    except OSError as error:
        raise Unreadable(os_error_message(error)) from None
    except (ValueError, KeyError, TypeError, RecursionError):  # (not JSON, not UTF-8, not a record)
        accuracy = None
    if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not 0 <= accuracy <= 1:
        raise Unreadable(f"{record}: not a classifier's record")  # (NaN too)
    return Classifier(model, float(accuracy))


def _load_or_fit(name, splits, seed, epochs, stem, verbose, cache_dir):
    import keras

    train_images, train_labels, heldout_images, heldout_labels = splits
    weights, record = stem.with_suffix(".weights.h5"), stem.with_suffix(".json")
    if weights.is_file() and record.is_file():
        try:
            return load_saved(splits, seed, stem)
        except Unreadable as error:  # trained again below, in its place
            print(f"warning: the cached {name} classifier is unreadable ({error}); training it again", file=sys.stderr)
    keras.utils.set_random_seed(seed)
    model = make_classifier(int(train_labels.max()) + 1)

    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    if verbose:
        print(f"training the {name} classifier on {len(train_images)} images ({epochs} epochs), cached in {cache_dir}")
    model.fit(
        data.scale_images(train_images), train_labels, batch_size=128, epochs=epochs, shuffle=True, verbose=0
    )
    classifier = Classifier(model, 0.0)
    predictions = classifier.embed(heldout_images)[1].argmax(axis=1)
    classifier.heldout_accuracy = float(np.mean(predictions == heldout_labels))

    # Each file appears whole or not at all; the record, which marks the entry done, last.
    # One that cannot be written (a full disk) costs a training next time, not this one's use.
    unique = f"-partial-{os.getpid()}"
    partials = {weights: stem.with_name(stem.name + unique + ".weights.h5"),
                record: stem.with_name(stem.name + unique + ".json")}
    try:
        weights_alone = make_classifier(int(train_labels.max()) + 1)  # without Adam's moments: a third of the file
        weights_alone.set_weights(model.get_weights())
        weights_alone.save_weights(partials[weights])
        os.replace(partials[weights], weights)
        partials[record].write_text(json.dumps({"dataset": name, "heldout_accuracy": classifier.heldout_accuracy,
                                                "epochs": epochs}))
        os.replace(partials[record], record)
    except OSError as error:
        for path, partial in partials.items():
            partial.unlink(missing_ok=True)
            if error.filename in (None, str(partial)):
                error.filename = str(path)
        print(f"warning: the {name} classifier could not be cached ({os_error_message(error)}); it is trained again "
              "next time", file=sys.stderr)
    return classifier
