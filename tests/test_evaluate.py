"""The classifier, the metrics on real digits, the Inception path and the evaluate command."""
import csv
import io
import json
import math
import pathlib
import re
import shutil
import types
import zipfile

import keras
import numpy as np
import pytest

import variants
from commands import evaluate
from common import classifier, cli, data, quality
from common.cli import UserError
from tests.helpers import REPO, own_stderr_lines, run_in_process, run_python, snapshot

ASSETS = REPO / "common" / "assets"


@pytest.fixture(scope="module")
def cache():
    """The session's fresh cache (tests/conftest.py): empty but for what a test trains."""
    return classifier.CACHE_DIR.parent


@pytest.fixture(scope="module")
def evaluator(cache):
    """The mnist_5k evaluator, with the classifier that comes with the repository."""
    return quality.Evaluator("mnist_5k", num_samples=1000, cache_dir=cache / "gan-reference")


def test_the_bundled_classifier_is_the_one_this_code_trains(evaluator, cache):
    splits = classifier.training_and_heldout("mnist_5k")
    entry = f"classifier-mnist_5k-{classifier.entry_key(splits, 0, classifier.EPOCHS['mnist_5k'])}"
    assert (classifier.BUNDLED / f"{entry}.json").is_file(), (
        "common/classifier.py or the digits changed: run `python scripts/bundle_classifier.py`")
    assert sorted(path.name for path in classifier.BUNDLED.glob("classifier-*")) == [f"{entry}.json",
                                                                                     f"{entry}.weights.h5"]
    # Loaded from there: nothing trained, nothing written into the cache.
    again = classifier.load_or_train("mnist_5k", cache_dir=cache / "gan-reference", verbose=False, splits=splits)
    assert not list((cache / "gan-reference").glob("classifier-mnist_5k-*"))
    digits = splits[2][:20]
    np.testing.assert_allclose(again.embed(digits)[0], evaluator.extractor.embed(digits)[0], rtol=1e-5, atol=1e-5)


def test_the_classifier_reaches_95_percent_on_held_out_mnist_5k(evaluator):
    _, _, images, labels = classifier.training_and_heldout("mnist_5k")
    accuracy = float(np.mean(evaluator.extractor.embed(images)[1].argmax(axis=1) == labels))
    assert accuracy >= 0.95
    assert accuracy == pytest.approx(evaluator.extractor.heldout_accuracy, abs=0.002)  # what its record says


@pytest.mark.reproduction
def test_the_classifier_trained_from_scratch_reaches_95_percent(tmp_path):
    # The bundled classifier's training, again (about 20 s); round-off may move a few digits.
    trained = classifier.load_or_train("mnist_5k", cache_dir=tmp_path, verbose=False, bundled=False)
    assert trained.heldout_accuracy >= 0.95
    assert list(tmp_path.glob("classifier-mnist_5k-*.weights.h5"))  # trained here, and cached


def test_two_runs_that_start_together_train_the_classifier_once(tmp_path, capsys):
    import threading

    images, labels, heldout_images, heldout_labels = classifier.training_and_heldout("mnist_5k")
    splits = (images[:256], labels[:256], heldout_images[:100], heldout_labels[:100])
    start, results = threading.Barrier(2, timeout=60), []

    def load():
        start.wait()
        results.append(classifier.load_or_train("mnist_5k", cache_dir=tmp_path, epochs=1, splits=splits))

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    out = capsys.readouterr()
    assert len(results) == 2 and out.out.count("training the mnist_5k classifier") == 1, out
    assert results[0].heldout_accuracy == results[1].heldout_accuracy
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".h5", ".json", ".lock"]


def test_a_classifier_that_cannot_be_cached_is_used_and_said_in_one_line(tmp_path, monkeypatch, capsys):
    # h5py's error on a full disk ended the evaluation, after the training, in two lines.
    images, labels, heldout_images, heldout_labels = classifier.training_and_heldout("mnist_5k")
    splits = (images[:64], labels[:64], heldout_images[:20], heldout_labels[:20])

    def full_disk(model, path, **kwargs):
        open(path, "wb").close()
        raise OSError(28, "Unable to synchronously create file (file write failed: time = Mon Nov 30 22:58:02 2026\n"
                          f", filename = '{path}', errno = 28, error message = 'No space left on device')")

    monkeypatch.setattr(keras.Model, "save_weights", full_disk)
    trained = classifier.load_or_train("mnist_5k", cache_dir=tmp_path, epochs=1, splits=splits, verbose=False)
    assert len(trained.embed(data.load_dataset("mnist_5k").images[:2])[1]) == 2  # used all the same
    assert re.fullmatch(
        rf"warning: the mnist_5k classifier could not be cached \({re.escape(str(tmp_path))}/classifier-mnist_5k-\w+"
        r"\.weights\.h5: No space left on device; free some space there, or write elsewhere\); it is trained again "
        r"next time\n", capsys.readouterr().err)
    assert [path.suffix for path in tmp_path.iterdir()] == [".lock"]


@pytest.fixture(scope="module")
def saved_classifier(tmp_path_factory):
    """(splits of a few digits, the folder and entry name of a classifier trained on them for one epoch)."""
    images, labels, heldout_images, heldout_labels = classifier.training_and_heldout("mnist_5k")
    splits = (images[:64], labels[:64], heldout_images[:20], heldout_labels[:20])
    folder = tmp_path_factory.mktemp("saved")
    classifier.load_or_train("mnist_5k", cache_dir=folder, epochs=1, splits=splits, verbose=False, bundled=False)
    return splits, folder, f"classifier-mnist_5k-{classifier.entry_key(splits, 0, 1)}"


def cut_short(path):
    path.write_bytes(path.read_bytes()[:1000])


def made_a_folder(path):
    path.unlink()
    path.mkdir()


def empty_hdf5(path):  # (Keras warns of every weight it lacks, then raises several lines)
    import h5py

    path.unlink()
    h5py.File(path, "w").close()


DAMAGE = {"weights cut short": (".weights.h5", cut_short), "weights missing": (".weights.h5", pathlib.Path.unlink),
          "weights a folder": (".weights.h5", made_a_folder), "weights an empty HDF5 file": (".weights.h5", empty_hdf5),
          "record missing": (".json", pathlib.Path.unlink), "record not UTF-8": (".json", lambda path:
                                                                               path.write_bytes(b"\xff\xfe")),
          "record a folder": (".json", made_a_folder), "record of no accuracy": (".json", lambda path:
                                                                                path.write_text("[]")),
          "record of accuracy NaN": (".json", lambda path: path.write_text('{"heldout_accuracy": NaN}')),
          "record nested too deep": (".json", lambda path: path.write_text("[" * 200_000 + "]" * 200_000))}


@pytest.mark.parametrize("damage", DAMAGE)
def test_an_unreadable_bundled_classifier_is_one_line_and_the_cached_one_is_used(saved_classifier, damage, tmp_path,
                                                                                 monkeypatch, capsys):
    # A damaged checkout: a warning naming the file, not an error.
    splits, saved, entry = saved_classifier
    bundled, cache = tmp_path / "assets", tmp_path / "cache"
    for folder in (bundled, cache):
        shutil.copytree(saved, folder, ignore=shutil.ignore_patterns("*.lock"))
    suffix, damaging = DAMAGE[damage]
    damaging(bundled / f"{entry}{suffix}")
    monkeypatch.setattr(classifier, "BUNDLED", bundled)
    used = classifier.load_or_train("mnist_5k", cache_dir=cache, epochs=1, splits=splits, verbose=False)
    said = capsys.readouterr().err
    assert said.startswith(f"warning: the bundled mnist_5k classifier is unreadable ({bundled / entry}{suffix}")
    assert said.endswith("; using a cached or newly trained one (`git checkout common/assets` restores it)\n")
    assert said.count("\n") == 1, said
    assert len(used.embed(splits[2][:2])[1]) == 2  # the cache's, untouched
    assert snapshot(cache) == snapshot(saved) | {f"{entry}.lock": snapshot(cache)[f"{entry}.lock"]}


def test_an_unreadable_cached_classifier_is_one_line_and_trained_again_in_its_place(saved_classifier, tmp_path,
                                                                                   capsys):
    splits, saved, entry = saved_classifier
    cache = tmp_path / "cache"
    shutil.copytree(saved, cache)
    cut_short(cache / f"{entry}.weights.h5")

    def load():
        classifier.load_or_train("mnist_5k", cache_dir=cache, epochs=1, splits=splits, verbose=False)
        return capsys.readouterr().err

    said = load()
    assert said.startswith(f"warning: the cached mnist_5k classifier is unreadable ({cache / entry}.weights.h5: ")
    assert said.endswith("; training it again\n") and said.count("\n") == 1
    assert load() == ""  # trained again in its place


def test_the_classifiers_key_is_the_same_for_a_checkout_with_windows_line_ends(tmp_path, monkeypatch):
    splits = classifier.training_and_heldout("mnist_5k")
    key = classifier.entry_key(splits, 0, 15)
    copy = tmp_path / "classifier.py"
    copy.write_bytes(pathlib.Path(classifier.__file__).read_bytes().replace(b"\n", b"\r\n"))
    monkeypatch.setattr(classifier, "__file__", str(copy))
    assert classifier.entry_key(splits, 0, 15) == key
    copy.write_bytes(copy.read_bytes() + b"# an edit\r\n")
    assert classifier.entry_key(splits, 0, 15) != key


@pytest.mark.parametrize("bundle", ["whole", "its record lost", "its weights lost"])
def test_the_bundle_script_keeps_a_whole_bundle_makes_a_broken_one_again_and_removes_older_ones(bundle, tmp_path,
                                                                                               monkeypatch):
    splits = classifier.training_and_heldout("mnist_5k")
    entry = f"classifier-mnist_5k-{classifier.entry_key(splits, 0, classifier.EPOCHS['mnist_5k'])}"
    assets = tmp_path / "assets"
    assets.mkdir()
    for suffix in (".weights.h5", ".json"):
        shutil.copyfile(ASSETS / f"{entry}{suffix}", assets / f"{entry}{suffix}")
    lost = {"its record lost": ".json", "its weights lost": ".weights.h5"}.get(bundle)
    if lost:
        (assets / f"{entry}{lost}").unlink()
    (assets / "classifier-mnist_5k-0123456789abcdef.json").write_text("{}")  # an older key's, or half of one
    (assets / "mnist_5k.npz").write_bytes(b"digits")  # not a classifier's: kept
    monkeypatch.setattr(classifier, "BUNDLED", assets)

    def trained(name, cache_dir, splits, verbose, bundled):  # the training, 20 s, stood in for
        assert (name, bundled) == ("mnist_5k", False)
        (pathlib.Path(cache_dir) / f"{entry}.weights.h5").write_bytes(b"weights")
        (pathlib.Path(cache_dir) / f"{entry}.json").write_text('{"heldout_accuracy": 0.97}')
        return types.SimpleNamespace(heldout_accuracy=0.97)

    monkeypatch.setattr(classifier, "load_or_train", trained)
    result = run_in_process(["scripts/bundle_classifier.py"])
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in assets.iterdir()) == [f"{entry}.json", f"{entry}.weights.h5", "mnist_5k.npz"]
    if lost:
        assert result.stdout.splitlines()[-1] == (f"wrote common/assets/{entry}.weights.h5 and .json (held-out "
                                                  "accuracy 97.0%)")
        assert (assets / f"{entry}.weights.h5").read_bytes() == b"weights"
    else:
        assert result.stdout == f"common/assets/{entry}.* is this code's classifier already\n"
        assert (assets / f"{entry}.weights.h5").read_bytes() == (ASSETS / f"{entry}.weights.h5").read_bytes()


def test_held_out_split_is_disjoint_and_balanced():
    train_images, train_labels, heldout_images, heldout_labels = classifier.training_and_heldout("mnist_5k")
    assert len(train_images) == 4000 and len(heldout_images) == 1000
    assert np.bincount(heldout_labels).tolist() == [100] * 10
    train_keys = {image.tobytes() for image in train_images}
    assert not any(image.tobytes() in train_keys for image in heldout_images)


def blur(images, passes=3):
    blurred = images.astype(np.float32)
    for _ in range(passes):  # a 3x3 box filter, several times
        padded = np.pad(blurred, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
        blurred = sum(padded[:, i:i + 28, j:j + 28] for i in range(3) for j in range(3)) / 9
    return blurred.astype(np.uint8)


def test_real_digits_beat_blurred_digits_beat_noise(evaluator):
    train_images = classifier.training_and_heldout("mnist_5k")[0]  # sorted by class: take a random 1000
    train_images = train_images[np.random.default_rng(0).choice(len(train_images), 1000, replace=False)]
    real = evaluator.score(train_images)
    blurred = evaluator.score(blur(train_images))
    noise = evaluator.score(np.random.default_rng(0).integers(0, 256, train_images.shape, dtype=np.uint8))
    for key in ("classifier_fd", "classifier_kid"):
        assert real[key] < blurred[key] < noise[key], key
    assert real["classifier_score"] > 9.0 > blurred["classifier_score"]
    assert real["classes_covered"] == 10


def test_one_repeated_digit_covers_one_class(evaluator):
    digit = data.load_dataset("mnist_5k").images[2600]  # a five
    result = evaluator.score(np.repeat(digit[None], 500, axis=0))
    assert result["classes_covered"] == 1
    assert result["class_kl"] == pytest.approx(math.log(10))
    assert result["classifier_score"] == pytest.approx(1.0, abs=1e-6)


def test_label_accuracy_checks_each_sample_against_its_requested_class(evaluator):
    # Held-out digits with their true labels: the classifier's held-out accuracy. The same
    # digits with every label moved to the next class: a generator that ignores its label.
    _, _, images, labels = classifier.training_and_heldout("mnist_5k")
    assert "label_accuracy" not in evaluator.score(images[:20])  # whatever the count: no labels given
    correct = evaluator.score(images, labels)["label_accuracy"]
    assert correct == pytest.approx(evaluator.extractor.heldout_accuracy, abs=1e-6)
    # Every fifth held-out digit, all ten classes: the classifier names the shifted class for ~1% of them.
    assert evaluator.score(images[::5], (labels[::5] + 1) % 10)["label_accuracy"] < 0.05
    assert evaluator.floor["label_accuracy"] > 0.95  # real training digits, true labels


@pytest.fixture(scope="module")
def random_inception():
    """InceptionV3 with random weights (no download), built once: about 10 CPU-seconds."""
    return quality.InceptionEmbedding(weights=None, batch_size=2)


def test_inception_embedding_shapes_with_random_weights(random_inception):
    embedding = random_inception
    features, probabilities = embedding.embed(np.zeros((3, 32, 32, 3), np.uint8))
    assert features.shape == (3, 2048) and probabilities.shape == (3, 1000)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    features_gray, _ = embedding.embed(np.zeros((1, 28, 28, 1), np.uint8))  # grayscale is tiled to RGB
    np.testing.assert_allclose(features_gray[0], features[0], rtol=1e-4, atol=1e-5)


def test_inception_weights_offline_is_one_line(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example.invalid: Name or service not known")

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", offline)
    with pytest.raises(UserError, match="--inception_weights=PATH") as error:
        quality.inception_model("imagenet")
    assert "\n" not in str(error.value)


def test_train_with_eval_every_then_the_evaluate_command(evaluator, tmp_path):
    # What is checked of training is when it evaluates: with 300 samples an evaluation, as the
    # command below scores, not the 4,000 of a real mnist_5k run (5,000 capped), ~9 CPU-s less.
    logdir = tmp_path / "run"
    train = variants.module("dcgan", "train")
    train.train(cli.default_config(train, dataset="mnist_5k", batch_size=8, train_steps=4, log_every=1,
                                   eval_every=2, eval_samples=300, logdir=str(logdir)))
    with open(logdir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    evaluated = [int(row["step"]) for row in rows if row["eval/classifier_fd"]]
    assert evaluated == [2, 4]
    assert all(float(row["eval/classifier_fd"]) > 0 for row in rows if row["eval/classifier_fd"])

    # The command as a user types it, once; the other two run what it runs, in this process.
    result = run_python(["-m", "commands.evaluate", f"--logdir={logdir}", "--num_samples=300"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "classifier_fd" in result.stdout and "real floor" in result.stdout
    report = json.loads((logdir / "metrics.json").read_text())
    assert report["num_samples"] == 300 and report["reference_size"] == 1000
    assert set(report["samples"]) == set(report["real_floor"]) == {
        "classifier_fd", "classifier_kid", "classifier_score", "classes_covered", "class_kl"}
    assert report["real_floor"]["classifier_fd"] < report["samples"]["classifier_fd"]  # 4 iterations: poor

    samples = tmp_path / "digits.npz"
    digits = data.load_dataset("mnist_5k")
    np.savez(samples, images=digits.images[::16][:300], labels=digits.labels[::16][:300])  # every class
    result = run_in_process(["-m", "commands.evaluate", f"--samples={samples}", "--dataset=mnist_5k"])
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "digits.metrics.json").read_text())
    assert report["samples"]["classes_covered"] == 10
    assert report["samples"]["label_accuracy"] > 0.95 and report["real_floor"]["label_accuracy"] > 0.95

    result = run_in_process(["-m", "commands.evaluate", f"--samples={samples}"])
    assert result.returncode == 2 and "--dataset" in result.stderr


def test_a_folder_is_evaluated_on_a_bounded_random_subset(tmp_path, monkeypatch, random_inception):
    # The reference and the floor's images are decoded from a random subset of the files:
    # memory depends on FOLDER_REFERENCE and num_samples, never on the folder's size.
    # A few images each: every one goes through InceptionV3 at 299x299 (~0.3 CPU-s).
    from PIL import Image

    rng = np.random.default_rng(0)
    for index in range(8):
        Image.fromarray(rng.integers(0, 256, (36, 36, 3), dtype=np.uint8)).save(tmp_path / f"{index}.png")
    monkeypatch.setattr(quality, "FOLDER_REFERENCE", 3)
    built = []
    monkeypatch.setattr(quality, "InceptionEmbedding", lambda weights: built.append(weights) or random_inception)
    evaluator = quality.Evaluator(f"folder:{tmp_path}", num_samples=2, inception_weights=None, image_size=32)
    assert built == [None] and evaluator.reference_size == 3 and evaluator.num_samples == 2
    assert set(evaluator.floor) == {"fid", "kid", "inception_score"}
    scores = evaluator.score(rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8))
    assert scores["fid"] > 0


def digits_file(path, images=None, **arrays):
    """An .npz like commands.generate's: 50 uint8 digits [50, 28, 28, 1], with any arrays changed."""
    if images is None:
        images = data.load_dataset("mnist_5k").images[::100]
    np.savez(path, images=images, **arrays)
    return path


def npy_file(path):
    np.save(path, np.zeros((50, 28, 28, 1), np.uint8))
    return path


def text_file(path):
    path.write_text("not numpy")
    return path


def zip_member(path, name, contents, compression=zipfile.ZIP_STORED):
    """An .npz whose member NAME.npy holds `contents` (bytes), beside good digits unless NAME is images."""
    good = io.BytesIO()
    np.save(good, data.load_dataset("mnist_5k").images[:50])
    with zipfile.ZipFile(path, "w", compression) as archive:
        if name != "images":
            archive.writestr("images.npy", good.getvalue())
        archive.writestr(f"{name}.npy", contents(good.getvalue()) if callable(contents) else contents)
    return path


def corrupt_deflated(path):
    """A compressed .npz (as np.savez_compressed writes) with bytes inside its compressed data zeroed."""
    digits_file(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        good = io.BytesIO()
        np.save(good, data.load_dataset("mnist_5k").images[:50])
        archive.writestr("images.npy", good.getvalue())
    raw = bytearray(path.read_bytes())
    start = raw.index(b"images.npy") + len("images.npy") + 40
    raw[start:start + 200] = bytes(200)
    path.write_bytes(bytes(raw))
    return path


def pickled_npy():
    array = io.BytesIO()
    np.save(array, np.array([None, 1], dtype=object), allow_pickle=True)
    return array.getvalue()


# Each bad --samples file, and words its one-line refusal must hold: what was expected, what was given.
BAD_SAMPLES = {
    "32x32 colour against 28x28 digits": (
        lambda path: digits_file(path, np.zeros((50, 32, 32, 3), np.uint8)), ["[N, 28, 28, 1]", "[50, 32, 32, 3]"]),
    "3 channels": (lambda path: digits_file(path, np.zeros((50, 28, 28, 3), np.uint8)), ["[N, 28, 28, 1]", "3]"]),
    "no channel axis": (lambda path: digits_file(path, np.zeros((50, 28, 28), np.uint8)), ["[50, 28, 28]"]),
    "float in [-1, 1]": (lambda path: digits_file(path, np.linspace(-1, 1, 50 * 784, dtype=np.float32).reshape(
        50, 28, 28, 1)), ["uint8", "0..255", "float32", "-1..1"]),
    "int64 images": (lambda path: digits_file(path, np.zeros((50, 28, 28, 1), np.int64)), ["uint8", "int64"]),
    "empty": (lambda path: digits_file(path, np.zeros((0, 28, 28, 1), np.uint8)), ["at least 2", "[0, 28, 28, 1]"]),
    "one image": (lambda path: digits_file(path, np.zeros((1, 28, 28, 1), np.uint8)), ["at least 2"]),
    "no images key": (lambda path: (np.savez(path, samples=np.zeros(3)), path)[1], ["images", "['samples']"]),
    "a .npy, not an .npz": (lambda path: npy_file(path.with_suffix(".npy")), ["single array"]),
    "not numpy at all": (text_file, ["cannot read images", "not an .npz"]),
    "object array": (lambda path: digits_file(path, np.array([None, 1], dtype=object)), ["not an .npz of plain"]),
    "no such file": (lambda path: path, ["no such file"]),
    "a directory": (lambda path: (path.mkdir(), path)[1], ["is a directory"]),
    "images.npy not an array": (lambda path: zip_member(path, "images", b"not npy"),
                                ["cannot read images", "images.npy is not a NumPy array"]),
    "empty images.npy": (lambda path: zip_member(path, "images", b""), ["images.npy is not a NumPy array"]),
    "images.npy cut short": (lambda path: zip_member(path, "images", lambda good: good[:500]),
                             ["images.npy cannot be read", "EOF"]),
    "images.npy header damaged": (lambda path: zip_member(path, "images", lambda good: good[:20] + b"((" + good[22:]),
                                  ["images.npy cannot be read"]),
    "labels.npy not an array": (lambda path: zip_member(path, "labels", b"not npy"), ["labels.npy is not a NumPy"]),
    "pickled images.npy": (lambda path: zip_member(path, "images", lambda good: pickled_npy()),
                           ["not an .npz of plain"]),
    "compressed data damaged": (corrupt_deflated, ["cannot read images"]),
    "float with NaN": (lambda path: digits_file(path, np.where(np.arange(50 * 784).reshape(50, 28, 28, 1) % 7, 0.5,
                                                               np.nan).astype(np.float32)),
                       ["uint8", "float32", "containing NaN", "0.5..0.5"]),
    "float, all NaN": (lambda path: digits_file(path, np.full((50, 28, 28, 1), np.nan, np.float32)),
                       ["containing only NaN"]),
    "49 labels for 50 images": (lambda path: digits_file(path, labels=np.zeros(49, np.int32)), ["int [50]", "[49]"]),
    "float labels": (lambda path: digits_file(path, labels=np.zeros(50, np.float32)), ["int [50]", "float32"]),
    "labels [50, 1]": (lambda path: digits_file(path, labels=np.zeros((50, 1), np.int32)), ["int [50]", "[50, 1]"]),
    "label 10": (lambda path: digits_file(path, labels=np.arange(50) % 11), ["0..9", "0..10"]),
    "label -1": (lambda path: digits_file(path, labels=np.arange(50) % 10 - 1), ["0..9", "-1..8"]),
}


@pytest.mark.parametrize("case", list(BAD_SAMPLES))
def test_every_bad_samples_file_is_refused_in_one_line_naming_expected_and_given(case, tmp_path):
    make, words = BAD_SAMPLES[case]
    path = make(tmp_path / "samples.npz")
    with pytest.raises(UserError) as error:
        evaluate.read_samples(str(path), "mnist_5k", data.load_dataset("mnist_5k"))
    message = str(error.value)
    assert "\n" not in message and all(word in message for word in words), message


def test_good_samples_pass_the_checks(tmp_path):
    path = digits_file(tmp_path / "samples.npz", labels=np.arange(50, dtype=np.int64) % 10)
    images, labels = evaluate.read_samples(str(path), "mnist_5k", data.load_dataset("mnist_5k"))
    assert images.shape == (50, 28, 28, 1) and labels.tolist() == (np.arange(50) % 10).tolist()


def test_labels_for_a_dataset_without_classes_are_refused(tmp_path):
    from PIL import Image

    (tmp_path / "folder").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "folder" / "0.png")
    path = digits_file(tmp_path / "samples.npz", np.zeros((4, 32, 32, 3), np.uint8), labels=np.zeros(4, np.int32))
    dataset = data.load_dataset(f"folder:{tmp_path / 'folder'}", image_size=32)
    with pytest.raises(UserError, match="has no classes"):
        evaluate.read_samples(str(path), "folder", dataset)


def parsed(*argv):
    from absl import flags

    flag_values = flags.FlagValues()
    evaluate.define_flags(flag_values)
    flag_values(["evaluate", *argv])
    return flag_values


@pytest.mark.parametrize("argv, words", [
    (["--logdir=RUN", "--dataset=mnist_5k"], "--dataset applies to --samples"),
    (["--logdir=RUN", "--image_size=32"], "--image_size applies to --samples"),
    (["--samples=S.npz", "--dataset=mnist_5k", "--image_size=32"], "mnist_5k has a fixed size"),
    (["--samples=S.npz", "--dataset=mnist_5k", "--output=OUT"], "is a folder"),
    (["--samples=S.npz", "--dataset=mnist_5k", "--output=OUT/missing/m.json"], "does not exist"),
    (["--samples=S.npz", "--dataset=mnist_5k", "--output=S.npz/m.json"], "S.npz is a file, not a folder"),
    (["--samples=S.npz", "--dataset=mnist_5k", "--inception_weights=OUT/none.h5"], "is not a file"),
    (["--samples=S.npz", "--dataset=no_such_set"], "unknown dataset"),
    (["--samples=S.npz", "--dataset=mnist_5k", "--num_samples=100"], "--num_samples applies to --logdir"),
])
def test_every_bad_flag_is_refused_before_any_work(argv, words, tmp_path):
    (tmp_path / "RUN").mkdir()
    (tmp_path / "OUT").mkdir()
    digits_file(tmp_path / "S.npz")
    argv = [arg.replace("RUN", str(tmp_path / "RUN")).replace("OUT", str(tmp_path / "OUT"))
            .replace("S.npz", str(tmp_path / "S.npz")) for arg in argv]
    with pytest.raises(UserError, match=words) as error:
        evaluate.checked_inputs(parsed(*argv))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("name, words", [
    ("config.json", "exists and is not an earlier evaluation; choose a new file"),
    ("grid.png", "--output must end in .json, not 'grid.png'"),
])
def test_an_output_never_replaces_a_file_the_command_did_not_write(tmp_path, name, words):
    # A JSON report went over an existing picture, or over a run's own config.json.
    output = tmp_path / name
    output.write_text('{"variant": "wgan_gp"}')
    digits_file(tmp_path / "S.npz")
    with pytest.raises(UserError, match=re.escape(words)):
        evaluate.checked_inputs(parsed(f"--samples={tmp_path / 'S.npz'}", "--dataset=mnist_5k", f"--output={output}"))
    assert output.read_text() == '{"variant": "wgan_gp"}'
    earlier = tmp_path / "S.metrics.json"  # an earlier report is replaced
    earlier.write_text(json.dumps({"samples": {}, "real_floor": {}, "extractor": "classifier", "seed": 0}))
    evaluate.check_output(earlier)
    earlier.write_text("{}")  # not one, at the default path
    with pytest.raises(UserError, match=re.escape(f"{earlier} (the report's default path) exists and is not an "
                                                  "earlier evaluation; choose another with --output")):
        evaluate.checked_inputs(parsed(f"--samples={tmp_path / 'S.npz'}", "--dataset=mnist_5k"))
    evaluate.check_output(tmp_path / ".json")  # a name that is all suffix


def test_the_command_refuses_colour_samples_against_digits_in_one_line(tmp_path):
    samples = digits_file(tmp_path / "colour.npz", np.zeros((50, 32, 32, 3), np.uint8))
    result = run_in_process(["-m", "commands.evaluate", f"--samples={samples}", "--dataset=mnist_5k"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert own_stderr_lines(result.stderr) == [
        f"error: {samples}: images must be uint8 [N, 28, 28, 1] for mnist_5k; given uint8 [50, 32, 32, 3]"]
    assert not (tmp_path / "colour.metrics.json").exists()


def test_the_real_floor_of_a_samples_file_uses_as_many_real_images_as_it_holds(evaluator, tmp_path, capsys):
    # 20 real training digits score like the real floor only if the floor, too, has 20 images:
    # the Frechet distance's bias from few images (its covariance estimate) is most of FD here.
    train_images = classifier.training_and_heldout("mnist_5k")[0]
    chosen = train_images[np.random.default_rng(1).choice(len(train_images), 20, replace=False)]
    inputs = evaluate.checked_inputs(parsed(f"--samples={digits_file(tmp_path / 'few.npz', chosen)}",
                                            "--dataset=mnist_5k"))
    report = evaluate.score_and_write(inputs, quality.DEFAULT_NUM_SAMPLES, 0, "imagenet")
    assert report["num_samples"] == report["real_floor_size"] == 20
    assert json.loads((tmp_path / "few.metrics.json").read_text())["real_floor_size"] == 20
    samples, floor = report["samples"]["classifier_fd"], report["real_floor"]["classifier_fd"]
    assert floor > 4 * evaluator.floor["classifier_fd"]  # 20 images, not the fixture's 1000
    assert 0.5 < samples / floor < 2, (samples, floor)
    assert "note:" not in capsys.readouterr().out


def test_a_samples_file_larger_than_the_real_data_says_the_floor_is_capped(evaluator, tmp_path, capsys):
    digits = data.load_dataset("mnist_5k").images
    inputs = evaluate.checked_inputs(parsed(f"--samples={digits_file(tmp_path / 'many.npz', digits[:4010])}",
                                            "--dataset=mnist_5k"))
    report = evaluate.score_and_write(inputs, quality.DEFAULT_NUM_SAMPLES, 0, "imagenet")
    assert report["num_samples"] == 4010 and report["real_floor_size"] == 4000  # mnist_5k's training digits
    out = capsys.readouterr().out
    assert ("note: mnist_5k has only 4000 real training images for the real floor, fewer than the file's 4010 "
            "samples: the floor uses 4000 while the samples are scored whole") in out


def test_more_evaluation_samples_than_real_training_images_are_said_and_scored_at_their_count(
        cache, evaluator, monkeypatch):
    # In training (--eval_samples) as in the evaluate command: the note, and samples at the floor's count.
    # What is checked is the count the floor is scored at, not its metrics (the test above scores them).
    scored = []
    monkeypatch.setattr(quality.Evaluator, "score", lambda self, images, labels=None: scored.append(len(images)))
    capped = quality.Evaluator("mnist_5k", num_samples=4500, cache_dir=cache / "gan-reference")
    assert capped.num_samples == 4000 and capped.asked == 4500 and scored == [4000]
    assert capped.shortfall() == ("note: mnist_5k has only 4000 real training images for the real floor, fewer than "
                                  "the 4500 asked for: the floor uses 4000, and so do the samples")
    assert "are not at the same count" in capped.shortfall(samples_whole=True)
    assert evaluator.num_samples == 1000 and evaluator.shortfall() is None


@pytest.mark.parametrize("arrives_as", ["KeyboardInterrupt", "another error, from TensorFlow's C++ code"])
def test_an_interrupted_evaluation_says_its_metrics_were_not_written(tmp_path, monkeypatch, arrives_as):
    from common import cli

    def interrupted(*args, **kwargs):  # Ctrl-C while the evaluator loads
        if arrives_as == "KeyboardInterrupt":
            raise KeyboardInterrupt
        monkeypatch.setattr(cli, "_stop_requested", True)  # the signal's handler ran
        raise AttributeError("'list' object has no attribute '_type_spec'")

    monkeypatch.setattr(quality, "Evaluator", interrupted)
    inputs = {"dataset": "mnist_5k", "data_dir": None, "image_size": 64, "source": "s.npz",
              "output": tmp_path / "s.metrics.json", "images": np.zeros((2, 28, 28, 1), np.uint8), "labels": None}
    with pytest.raises(KeyboardInterrupt) as interruption:  # cli.run_command prints it and exits with 130
        evaluate.score_and_write(inputs, 10, 0, "imagenet")
    assert str(interruption.value) == f"interrupted: {tmp_path / 's.metrics.json'} was not written"
    assert not (tmp_path / "s.metrics.json").exists()
