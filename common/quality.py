"""Sample-quality metrics of a set of images against a dataset's held-out real images.

An Evaluator is built once per dataset (it trains or loads the classifier and embeds
the reference) and then scores any number of image sets; `floor` holds the scores of
real training images of the same count (the "real floor": what a perfect generator
would score with this many images).

28x28 datasets (mnist, fashion_mnist, mnist_5k) use the repo's own classifier
(common/classifier.py): classifier FD and KID on its 128 penultimate features (for KID
scaled by one number so that their mean square is 1, the range KID's kernel expects), the
classifier score exp(E KL(p(y|x) || p(y))) (10 at best), and class coverage. The
reference is the held-out split: the test split, or mnist_5k's last 100 digits per class.
For a --conditional run (or a .npz with `labels`) it also reports label_accuracy: how
often the classifier puts a sample in the class it was generated for.

Colour datasets use InceptionV3 with ImageNet weights from keras.applications
(FID and KID on the 2048 pool features, Inception Score on the 1000 classes), with
images resized to 299x299 bilinearly. These are not the numbers of the reference
TensorFlow FID graph (another network export and resize), so compare them only with
each other. The reference is cifar10's test split, or a folder's or TFDS set's own images.
"""
import numpy as np

from common import classifier, data, metrics
from common.cli import UserError

DEFAULT_NUM_SAMPLES = 5000  # run-to-run spread at this count: see the README's results section
DIGIT_DATASETS = ("mnist", "fashion_mnist", "mnist_5k")
INCEPTION_SIZE = 299
FOLDER_REFERENCE = 10_000  # a folder's reference images (a random subset; the rest stays on disk)
INCEPTION_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"


def inception_model(weights="imagenet"):
    """InceptionV3 -> (2048 pool features, 1000 class probabilities); weights: "imagenet", a path, or None."""
    import keras

    try:
        model = keras.applications.InceptionV3(include_top=True, weights=weights)
    except Exception as error:
        if weights != "imagenet":
            raise UserError(f"cannot load InceptionV3 weights from {weights}: {error}") from None
        raise UserError(
            "the InceptionV3 ImageNet weights could not be downloaded; "
            f"get {INCEPTION_FILE} and pass --inception_weights=PATH"
        ) from None
    return keras.Model(model.input, [model.get_layer("avg_pool").output, model.output])


class InceptionEmbedding:
    """embed(uint8 images [N, H, W, 1 or 3]) -> (pool features [N, 2048], class probabilities [N, 1000])."""

    def __init__(self, weights="imagenet", batch_size=50):
        self.model, self.batch_size = inception_model(weights), batch_size

    def embed(self, images):
        import tensorflow as tf

        pools, probabilities = [], []
        for start in range(0, len(images), self.batch_size):
            batch = tf.cast(images[start:start + self.batch_size], tf.float32)
            if batch.shape[-1] == 1:
                batch = tf.image.grayscale_to_rgb(batch)
            batch = tf.image.resize(batch, (INCEPTION_SIZE, INCEPTION_SIZE), method="bilinear")
            pool, probability = self.model(batch / 127.5 - 1.0, training=False)  # InceptionV3 takes [-1, 1]
            pools.append(pool.numpy())
            probabilities.append(probability.numpy())
        return np.concatenate(pools), np.concatenate(probabilities)


class Evaluator:
    """Scores uint8 images against a dataset's held-out real images.

    Built once (it trains or loads the classifier and embeds the reference), then
    `score(images)` returns a dict of metrics; `floor` holds the real floor.
    """

    def __init__(self, dataset_name, data_dir=None, num_samples=DEFAULT_NUM_SAMPLES, seed=0,
                 inception_weights="imagenet", image_size=64, cache_dir=classifier.CACHE_DIR):
        rng = np.random.default_rng(seed)
        self.seed, self.dataset_name = seed, dataset_name
        if dataset_name in DIGIT_DATASETS:
            self.kind = "classifier"
            splits = classifier.training_and_heldout(dataset_name, data_dir)  # loaded once, used twice
            self.extractor = classifier.load_or_train(dataset_name, data_dir, cache_dir=cache_dir, splits=splits)
            train_images, train_labels, reference, _ = splits
        else:
            self.kind = "inception"
            self.extractor = InceptionEmbedding(inception_weights)
            train_labels = None
            training = data.load_dataset(dataset_name, data_dir, image_size)
            if not isinstance(training, data.InMemory):  # a folder or TFDS set: its own images are the reference
                # A subset in memory, whatever the dataset's size: the reference, then the floor's.
                images = data.read_images(training, FOLDER_REFERENCE + num_samples, seed)
                reference, train_images = images[:FOLDER_REFERENCE], images[FOLDER_REFERENCE:]
                if len(train_images) < 2:  # a small folder: the floor compares it with itself
                    train_images = reference
            else:
                train_images = training.images
                reference = data.load_dataset(dataset_name, data_dir, split="test").images
        self.num_samples = min(num_samples, len(train_images))  # fewer when the data has fewer
        self.asked = num_samples
        self.reference_size = len(reference)
        self._reference_features, _ = self.extractor.embed(reference)
        # KID's kernel (<x, y> / D + 1)^3 is made for features with <x, y> / D of order 1, as
        # InceptionV3's are; the classifier's ReLU features are ~20x larger, where the cube
        # rewards small activations over correct ones. One scalar brings them to that range.
        self._kid_scale = 1.0
        if self.kind == "classifier":
            self._kid_scale = float(np.sqrt(np.mean(self._reference_features**2)))
        # The real floor's label_accuracy is the classifier's accuracy on real training digits.
        subset = rng.choice(len(train_images), self.num_samples, replace=False)
        self.floor = self.score(train_images[subset], None if train_labels is None else train_labels[subset])

    def score(self, images, labels=None):
        """Metrics for uint8 images [N, H, W, C] (N should be self.num_samples for a fair comparison).

        labels: int [N], the classes a conditional generator was asked for; with the
        digit classifier they add label_accuracy (ImageNet's classes are not cifar10's,
        so InceptionV3 cannot check them).
        """
        features, probabilities = self.extractor.embed(images)
        kid, _ = metrics.kernel_inception_distance(
            features / self._kid_scale, self._reference_features / self._kid_scale, seed=self.seed
        )
        fd = metrics.frechet_distance(features, self._reference_features)
        score = metrics.inception_score(probabilities)
        if self.kind == "inception":
            return {"fid": fd, "kid": kid, "inception_score": score}
        covered, class_kl = metrics.class_coverage(probabilities)
        results = {"classifier_fd": fd, "classifier_kid": kid, "classifier_score": score,
                   "classes_covered": covered, "class_kl": class_kl}
        if labels is not None:
            results["label_accuracy"] = float(np.mean(np.argmax(probabilities, axis=1) == labels))
        return results

    def shortfall(self, samples_whole=False):
        """A note when the dataset has fewer real training images than were asked for (else None).

        The floor then uses them all; generated samples are drawn at that count too, unless the
        samples are a file scored whole (samples_whole), which leaves the two at other counts.
        """
        if self.num_samples >= self.asked:
            return None
        note = f"note: {self.dataset_name} has only {self.num_samples} real training images for the real floor"
        if samples_whole:
            return (f"{note}, fewer than the file's {self.asked} samples: the floor uses {self.num_samples} while "
                    "the samples are scored whole, so the two are not at the same count")
        return f"{note}, fewer than the {self.asked} asked for: the floor uses {self.num_samples}, and so do the samples"

    def describe(self):
        extractor = "InceptionV3 (ImageNet)" if self.kind == "inception" else (
            f"digit classifier, held-out accuracy {self.extractor.heldout_accuracy:.4f}")
        return (f"{extractor}; reference: {self.reference_size} held-out real images; "
                f"real floor: {self.num_samples} training images")


def table(samples, floor):
    lines = [f"{'metric':<18}{'samples':>12}{'real floor':>12}"]
    for key, value in samples.items():
        lines.append(f"{key:<18}{value:>12.4g}{floor.get(key, float('nan')):>12.4g}")
    return "\n".join(lines)
