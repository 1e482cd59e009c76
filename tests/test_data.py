"""Datasets, the offline fallback, image folders and the input pipeline."""
import gzip
import logging
import pathlib
import pickle
import re
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from common import data
from common.cli import UserError


def test_bundled_mnist_5k_is_real_balanced_digits():
    dataset = data.load_dataset("mnist_5k")
    assert dataset.images.shape == (5000, 28, 28, 1) and dataset.images.dtype == np.uint8
    assert dataset.images.min() == 0 and dataset.images.max() == 255
    assert np.bincount(dataset.labels).tolist() == [500] * 10
    # Real digits: dark borders, ink in the middle.
    mean = dataset.images[..., 0].mean(axis=0)
    assert mean[:2].max() < 5 and mean[10:18, 10:18].mean() > 60


def test_mnist_falls_back_to_mnist_5k_when_the_download_fails(monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example.invalid/mnist.npz: None -- Name or service not known")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    dataset = data.load_dataset("mnist")
    assert dataset.images.shape == (5000, 28, 28, 1)
    assert "mnist_5k" in dataset.source and "fallback" in dataset.source
    assert "WARNING" in capsys.readouterr().err


def test_mnist_from_data_dir(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=images, y_train=np.arange(7), x_test=images[:2], y_test=np.arange(2))
    dataset = data.load_dataset("mnist", data_dir=str(tmp_path))
    np.testing.assert_array_equal(dataset.images[..., 0], images)
    test = data.load_dataset("mnist", data_dir=str(tmp_path), split="test")
    np.testing.assert_array_equal(test.images[..., 0], images[:2])
    with pytest.raises(UserError, match="mnist.npz"):
        data.load_dataset("mnist", data_dir=str(tmp_path / "missing"))


def test_fashion_mnist_offline_says_which_files_go_where(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(UserError, match="train-images-idx3-ubyte.gz.*--data_dir") as error:
        data.load_dataset("fashion_mnist")
    assert "\n" not in str(error.value)


def test_fashion_mnist_from_data_dir(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"\0" * 16 + images.tobytes())
    with gzip.open(tmp_path / "train-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"\0" * 8 + bytes([4, 5, 6]))
    dataset = data.load_dataset("fashion_mnist", data_dir=str(tmp_path))
    np.testing.assert_array_equal(dataset.images[..., 0], images)
    assert dataset.labels.tolist() == [4, 5, 6]


def test_cifar10_from_data_dir_and_offline_message(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    batches = []
    for index in range(1, 6):
        batch = rng.integers(0, 256, (2, 3 * 32 * 32), dtype=np.uint8)
        batches.append(batch)
        with open(folder / f"data_batch_{index}", "wb") as f:
            pickle.dump({b"data": batch, b"labels": [index, index]}, f)
    dataset = data.load_dataset("cifar10", data_dir=str(tmp_path))
    assert dataset.images.shape == (10, 32, 32, 3)
    # CIFAR rows are channel-major (1024 red, 1024 green, 1024 blue values).
    np.testing.assert_array_equal(dataset.images[0, :, :, 1], batches[0][0, 1024:2048].reshape(32, 32))

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: (_ for _ in ()).throw(Exception("offline")))
    with pytest.raises(UserError, match="cifar-10-batches-py"):
        data.load_dataset("cifar10")


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(UserError, match="unknown dataset 'imagenet'.*mnist_5k"):
        data.load_dataset("imagenet")


def write_image(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_folder_dataset_centre_crops_and_resizes_every_image(tmp_path):
    # 60x20, left third red, middle green, right third blue: the centre square is green.
    stripes = np.zeros((20, 60, 3), np.uint8)
    stripes[:, :20, 0] = stripes[:, 20:40, 1] = stripes[:, 40:, 2] = 255
    write_image(tmp_path / "a" / "stripes.png", stripes)
    write_image(tmp_path / "b" / "c" / "gray.jpg", np.full((30, 30), 90, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image, not read")
    dataset = data.load_dataset(f"folder:{tmp_path}", image_size=32)
    assert isinstance(dataset, data.ImageFolder) and dataset.labels is None and dataset.image_shape == (32, 32, 3)
    assert [pathlib.Path(file).name for file in dataset.files] == ["stripes.png", "gray.jpg"]  # sorted by path
    stripes_out, gray = (data.folder_decoder(dataset)(file).numpy() for file in dataset.files)
    assert stripes_out[..., 1].min() > 240 and stripes_out[..., 0].max() < 15 and stripes_out[..., 2].max() < 15
    assert abs(int(gray.mean()) - 90) <= 2


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda root: None, "is not a directory"),
        (lambda root: root.mkdir(), "no .jpg/.jpeg/.png files"),
        (lambda root: (root.mkdir(), (root / "broken.png").write_bytes(b"not a png")),
         "cannot read any image under .*images \\(1 files, e.g. .*broken.png\\)"),
    ],
    ids=["missing", "empty", "unreadable"],
)
def test_folder_dataset_errors(tmp_path, setup, message):
    root = tmp_path / "images"
    setup(root)
    with pytest.raises(UserError, match=message):
        data.load_dataset(f"folder:{root}")


def test_a_folder_streams_skipping_unreadable_files_with_one_warning(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for index in range(5):
        write_image(tmp_path / f"good{index}.png", rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
    (tmp_path / "text.png").write_bytes(b"just some text")  # not an image at all
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "no_header.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)  # a PNG signature, no header
    # A sound PNG header over broken data: found only when it is read, and dropped then.
    (tmp_path / "truncated.png").write_bytes((tmp_path / "good0.png").read_bytes()[:100])
    dataset = data.load_dataset(f"folder:{tmp_path}", image_size=28)
    warning = [line for line in capsys.readouterr().err.splitlines() if line.startswith("WARNING")]
    assert len(warning) == 1 and "skipping 3 of 9 files" in warning[0]
    assert "text.png" in warning[0] and "empty.jpg" in warning[0]
    assert dataset.count == 6 and "6 images" in dataset.source
    batches = data.make_batches(dataset, batch_size=5, seed=0)
    for _ in range(3):  # an epoch of the 5 good files gives one full batch; truncated.png is dropped
        images, labels = next(batches)
        assert images.shape == (5, 28, 28, 3) and images.dtype == tf.float32
        assert -1.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
        assert labels.numpy().tolist() == [0] * 5
    assert data.read_images(dataset, 10).shape == (5, 28, 28, 3)  # every readable one, no more


def test_each_kind_of_dataset_says_its_classes_and_a_conditional_run_needs_some(tmp_path):
    digits = data.InMemory(np.zeros((4, 2, 2, 1), np.uint8), np.array([0, 3, 1, 3]), "test")
    assert data.run_facts(digits, conditional=True).num_classes == 4  # labels 0..3
    assert data.run_facts(digits, conditional=False).num_classes == 0
    write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    for unlabelled in (digits._replace(labels=None), data.load_dataset(f"folder:{tmp_path}", image_size=8)):
        assert unlabelled.num_classes == 0
        with pytest.raises(UserError, match="--conditional needs class labels"):
            data.run_facts(unlabelled, conditional=True)


def test_batches_are_full_scaled_and_cover_each_epoch_once():
    # Ten distinct one-pixel "images" 0, 10, ..., 90; batches of 4 drop the remainder of 2.
    images = (np.arange(10, dtype=np.uint8) * 10).reshape(10, 1, 1, 1)
    labels = np.arange(10) % 3
    batches = data.make_batches(data.InMemory(images, labels, "test"), batch_size=4, seed=0)
    seen = []
    for _ in range(50):
        batch, batch_labels = (tensor.numpy() for tensor in next(batches))
        assert batch.shape == (4, 1, 1, 1) and batch.dtype == np.float32
        # Each label travels with its own image.
        np.testing.assert_array_equal(batch_labels, np.rint((batch.ravel() + 1.0) * 12.75).astype(int) % 3)
        assert batch.min() >= -1.0 and batch.max() <= 1.0
        seen.append(np.rint((batch.ravel() + 1.0) * 127.5).astype(int))
    for epoch in range(25):  # two batches per epoch, never a repeated image inside one
        values = np.concatenate(seen[2 * epoch:2 * epoch + 2])
        assert len(set(values)) == 8 and set(values) <= set(range(0, 100, 10))
    assert len({tuple(b) for b in seen}) > 2, "the order must change from epoch to epoch"


def test_scaling_maps_0_and_255_to_the_tanh_range():
    scaled = data.scale_images(np.array([0, 255], np.uint8)).numpy()
    np.testing.assert_allclose(scaled, [-1.0, 1.0])


def test_batch_larger_than_the_dataset_is_refused():
    with pytest.raises(UserError, match="larger than the dataset"):
        data.make_batches(data.InMemory(np.zeros((5, 2, 2, 1), np.uint8), None, "test"), batch_size=6, seed=0)


def test_mnist_5k_test_split_is_the_last_100_digits_of_each_class():
    everything, test = data.load_dataset("mnist_5k"), data.load_dataset("mnist_5k", split="test")
    assert test.images.shape == (1000, 28, 28, 1) and np.bincount(test.labels).tolist() == [100] * 10
    for digit in range(10):
        np.testing.assert_array_equal(test.images[test.labels == digit], everything.images[everything.labels == digit][-100:])


def test_folders_have_no_test_split(tmp_path):
    with pytest.raises(UserError, match="no test split"):
        data.load_dataset(f"folder:{tmp_path}", split="test")


def grey_folder(root, count):
    """COUNT flat grey PNGs of different sizes, image i at level 20 * i, so each decodes back to i."""
    for index in range(count):
        write_image(root / f"{index:02d}.png", np.full((10 + index, 12, 3), 20 * index, np.uint8))
    return data.load_dataset(f"folder:{root}", image_size=8)


def indices_seen(pipeline, batches):
    """The image indices of a worker's first `batches` batches, in order."""
    return [int(value) for images, _ in pipeline.take(batches).as_numpy_iterator()
            for value in np.rint((images[:, 0, 0, 0] + 1.0) * 127.5 / 20)]


@pytest.mark.parametrize("kind", ["in memory", "folder", "cached folder"])
def test_each_input_pipeline_reads_a_disjoint_share_and_the_shares_cover_the_data(tmp_path, kind):
    dataset = grey_folder(tmp_path / "images", 12)
    if kind == "in memory":
        decode = data.folder_decoder(dataset)
        dataset = data.InMemory(np.stack([decode(file).numpy() for file in dataset.files]), None, "test")
    if kind == "cached folder":
        dataset = dataset._replace(cache_dir=str(tmp_path / "cache"))
    shares = [indices_seen(data.worker_batches(dataset, 2, seed=0, shards=2, shard=shard), 3) for shard in (0, 1)]
    assert [sorted(share) for share in shares] == [[0, 2, 4, 6, 8, 10], [1, 3, 5, 7, 9, 11]]
    if kind == "folder":  # a worker never opens the others' files: breaking them changes nothing for it
        for file in dataset.files[1::2]:
            pathlib.Path(file).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
        assert sorted(indices_seen(data.worker_batches(dataset, 2, seed=0, shards=2, shard=0), 3)) == sorted(shares[0])


def test_a_cached_folder_is_decoded_once_and_gives_the_images_streaming_gives(tmp_path, capsys, monkeypatch):
    dataset = grey_folder(tmp_path / "images", 6)
    streamed = np.stack([data.folder_decoder(dataset)(file).numpy() for file in dataset.files])
    cached = dataset._replace(cache_dir=str(tmp_path / "cache"))
    first = indices_seen(data.worker_batches(cached, 3, seed=0), 6)  # three epochs
    assert "caching 6 images (8x8)" in capsys.readouterr().err
    assert all(sorted(first[at:at + 6]) == list(range(6)) for at in (0, 6, 12)) and first[:6] != first[6:12]
    (entry,) = (path for path in (tmp_path / "cache").iterdir() if path.is_dir())  # and its .lock file
    np.testing.assert_array_equal(np.fromfile(entry / "images.u8", np.uint8).reshape(6, 8, 8, 3), streamed)

    def no_decoding(*args):
        raise AssertionError("a second start must not decode the folder again")

    monkeypatch.setattr(data.image_cache, "write_images", no_decoding)
    assert indices_seen(data.worker_batches(cached, 3, seed=0), 6) == first  # the same seed, the same order
    assert capsys.readouterr().err == ""
    write_image(tmp_path / "images" / "05.png", np.zeros((9, 9, 3), np.uint8))  # a changed folder: a new entry
    with pytest.raises(AssertionError, match="must not decode"):
        data.worker_batches(cached, 3, seed=0)


def test_a_cache_build_that_is_killed_leaves_no_entry_and_the_next_start_builds_it(tmp_path, monkeypatch):
    dataset = grey_folder(tmp_path / "images", 6)._replace(cache_dir=str(tmp_path / "cache"))
    rename = data.image_cache.os.rename

    def killed(source, target):
        raise KeyboardInterrupt  # the images are written, the rename never happens

    monkeypatch.setattr(data.image_cache.os, "rename", killed)
    with pytest.raises(KeyboardInterrupt):
        data.worker_batches(dataset, 3, seed=0)
    (lock,) = (tmp_path / "cache").iterdir()  # no entry, and no half-built one: only the lock file
    key = lock.name.removesuffix(".lock")
    monkeypatch.setattr(data.image_cache.os, "rename", rename)
    # A build killed outright (SIGKILL) cannot clean up: the next build of its key removes what it left.
    leftover = tmp_path / "cache" / f"{key}.building-1-dead"
    leftover.mkdir()
    (leftover / "images.u8").write_bytes(bytes(100))
    assert sorted(indices_seen(data.worker_batches(dataset, 3, seed=0), 2)) == list(range(6))
    assert sorted(path.name for path in (tmp_path / "cache").iterdir()) == [key, f"{key}.lock"]
    assert sorted(path.name for path in (tmp_path / "cache" / key).iterdir()) == ["images.json", "images.u8"]


def test_a_tfds_set_streams_cropped_and_resized_with_its_labels():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):  # random images of the set's own shape and labels
        dataset = data.load_dataset("tfds:cifar10", image_size=28)
        assert dataset.image_shape == (28, 28, 3) and dataset.count == 12 and dataset.num_classes == 10
        assert data.run_facts(dataset, conditional=True).num_classes == 10
        images, labels = next(data.make_batches(dataset, batch_size=4, seed=0))
        assert images.shape == (4, 28, 28, 3) and images.dtype == tf.float32
        assert -1.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 1.0
        assert labels.dtype == tf.int32 and set(labels.numpy().tolist()) <= set(range(10))
        assert data.read_images(dataset, 5).shape[1:] == (28, 28, 3)
        gray = data.load_dataset("tfds:mnist", image_size=32)
        assert gray.image_shape == (32, 32, 1)
        unlabelled = data.load_dataset("tfds:lsun/bedroom", image_size=64)  # images of any size
        assert unlabelled.num_classes == 0 and next(data.make_batches(unlabelled, 2, seed=0))[0].shape == (2, 64, 64, 3)
        with pytest.raises(UserError, match="needs class labels"):
            data.run_facts(unlabelled, conditional=True)


def test_tfds_errors_are_one_line_that_say_what_to_do(tmp_path):
    with pytest.raises(UserError, match=f"tfds:mnist is not prepared in {tmp_path}; prepare it once \\(it downloads\\) "
                                        f"with `python -m commands.prepare --dataset=tfds:mnist --data_dir={tmp_path}`"):
        data.load_dataset("tfds:mnist", str(tmp_path))
    with pytest.raises(UserError, match="tfds:no_such_set is not a TFDS dataset"):
        data.load_dataset("tfds:no_such_set", str(tmp_path))


def test_a_tfds_set_not_prepared_leaves_nothing_in_the_temp_folder(tmp_path, monkeypatch):
    # TFDS's builder copies an unprepared set's metadata into a folder of its own (mkdtemp) and
    # never removes it: each refused start and each prepare would leave one in TMPDIR.
    import tensorflow_datasets as tfds

    from commands import prepare

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    with pytest.raises(UserError, match="tfds:mnist is not prepared"):
        data.load_dataset("tfds:mnist", str(tmp_path / "tfds"))
    assert list(temp.iterdir()) == []

    def offline(self, *args, **kwargs):
        raise ConnectionError("Max retries exceeded")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    monkeypatch.setattr(prepare, "hosts_that_do_not_resolve", lambda urls: [])  # the download itself fails
    with pytest.raises(UserError, match="could not prepare tfds:mnist"):
        prepare.prepare("tfds:mnist", str(tmp_path / "tfds"))
    assert list(temp.iterdir()) == []
    assert tempfile.gettempdir() == str(temp)  # put back as it was


def test_a_runs_input_pipeline_starts_no_autotuning_thread(tmp_path):
    # tf.data's tuning thread sleeps on a timer that grows to a minute as a pipeline lives; an
    # iterator freed meanwhile waits for it while holding Python's lock, and a process that
    # trains one run after another (the tests' workers, a figure script) stood still 15-55 s.
    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(8):
        Image.fromarray(np.full((12, 12, 3), 20 * index, np.uint8)).save(folder / f"{index}.png")
    for dataset in (data.load_dataset("mnist_5k"), data.load_dataset(f"folder:{folder}", image_size=8)):
        assert data.worker_batches(dataset, 4, seed=0).options().autotune.enabled is False


def test_crop_and_resize_takes_the_centre_square_and_keeps_the_channels():
    wide = np.zeros((4, 12, 1), np.uint8)
    wide[:, 4:8] = 200  # the centre 4x4 square
    np.testing.assert_array_equal(data.crop_and_resize(tf.constant(wide), 4).numpy(), wide[:, 4:8])
    assert data.crop_and_resize(tf.constant(wide), 2).shape == (2, 2, 1)


def test_prepare_downloads_a_tfds_set_once_and_says_what_went_wrong_in_one_line(tmp_path, monkeypatch, capsys):
    import tensorflow_datasets as tfds

    from commands import prepare

    monkeypatch.setattr(prepare, "hosts_that_do_not_resolve", lambda urls: [])  # as online
    with tfds.testing.mock_data(num_examples=4):  # stands in for the download
        prepare.prepare("tfds:mnist", str(tmp_path))
    assert f"ready: train with --dataset=tfds:mnist --data_dir={tmp_path}" in capsys.readouterr().out

    retries_said = []

    def offline(self, *args, **kwargs):  # offline, urllib3 warns of each retry, minutes of them, before it gives up
        retries_said.append(logging.getLogger("urllib3.connectionpool").isEnabledFor(logging.WARNING))
        raise ConnectionError("Max retries exceeded with url: /mnist.gz\n(and a long story)")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    monkeypatch.setattr(logging.getLogger("urllib3"), "level", logging.NOTSET)  # put back afterwards
    with pytest.raises(UserError, match="^could not prepare tfds:mnist: Max retries exceeded with url: /mnist.gz$"):
        prepare.prepare("tfds:mnist", str(tmp_path))
    assert retries_said == [False]  # one line in all
    with pytest.raises(UserError, match="must be tfds:NAME, not 'mnist'"):
        prepare.prepare("mnist")


def test_prepare_offline_says_so_at_once_instead_of_minutes_of_retries(tmp_path, monkeypatch, caplog):
    import socket
    import time

    import tensorflow_datasets as tfds

    from commands import prepare

    downloads = []
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", lambda self, *a, **k: downloads.append(1))
    for variable in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(variable, raising=False)
        monkeypatch.delenv(variable.upper(), raising=False)
    looked_up = []

    def offline(host, *args, **kwargs):
        looked_up.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    began = time.perf_counter()
    with pytest.raises(UserError, match=(
            "^could not prepare tfds:cifar10: no internet here \\(www.cs.toronto.edu does not resolve\\); run this "
            f"where there is, then copy {tmp_path / 'tfds'} to this machine$")):
        prepare.prepare("tfds:cifar10", str(tmp_path / "tfds"))
    assert time.perf_counter() - began < 5 and looked_up == ["www.cs.toronto.edu"] and downloads == []
    assert not (tmp_path / "tfds").exists()
    # The one line only (TFDS's is_prepared() warned of the set's folder, which is not there).
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []

    # Any host of the set's that resolves, or a proxy (which resolves for us): TFDS downloads.
    urls = ["https://a.example/x", "http://b.example/y"]
    assert prepare.hosts_that_do_not_resolve(urls) == ["a.example", "b.example"]
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: [] if host == "b.example" else offline(host))
    assert prepare.hosts_that_do_not_resolve(urls) == []
    assert prepare.hosts_that_do_not_resolve([]) == []  # a set with no listed downloads (manual ones)
    monkeypatch.setattr(socket, "getaddrinfo", offline)
    # Proxy variables that do not apply to the downloads are no proxy: no_proxy alone, an http
    # proxy for https addresses, a proxy that no_proxy bypasses for the host.
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1")
    assert prepare.hosts_that_do_not_resolve(urls[:1]) == ["a.example"]
    monkeypatch.setenv("http_proxy", "http://proxy.example:3128")
    assert prepare.hosts_that_do_not_resolve(urls[:1]) == ["a.example"]
    assert prepare.hosts_that_do_not_resolve(urls) == []  # b.example's is http
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("no_proxy", "a.example")
    assert prepare.hosts_that_do_not_resolve(urls[:1]) == ["a.example"]
    monkeypatch.setenv("no_proxy", "localhost")
    prepare.prepare("tfds:cifar10", str(tmp_path / "tfds"))
    assert downloads == [1]
    for variable in ("http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(variable)

    # A set that is prepared already (copied from a machine with internet): ready, offline too.
    builder = tfds.builder("cifar10", data_dir=str(tmp_path / "tfds"))
    pathlib.Path(builder.data_dir).mkdir(parents=True)
    builder.info.write_to_directory(builder.data_dir)  # TFDS's mark of a prepared set, dataset_info.json
    prepare.prepare("tfds:cifar10", str(tmp_path / "tfds"))
    assert downloads == [1, 1]


def test_prepare_of_a_set_that_needs_a_manual_download_says_so_and_leaves_nothing(tmp_path, monkeypatch):
    # TFDS's own check, offline too (no host is looked up for such a set); the many lines of
    # instructions after its colon are the set's catalog page's.
    import socket

    from commands import prepare

    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: pytest.fail("a host was looked up"))
    (tmp_path / "tfds").mkdir()
    with pytest.raises(UserError, match=(
            f"^could not prepare tfds:imagenet2012: Manual directory {tmp_path}/tfds/downloads/manual does not exist "
            "or is empty. .* using instructions \\(the set's page in the TFDS catalog gives them\\)$")):
        prepare.prepare("tfds:imagenet2012", str(tmp_path / "tfds"))
    assert list((tmp_path / "tfds").iterdir()) == []  # TFDS's new folders, removed


def test_a_failed_or_interrupted_prepare_removes_what_it_made_and_only_that(tmp_path, monkeypatch):
    # A later start would warn of a half-made set's folder; the user's own files stay.
    import tensorflow_datasets as tfds

    from commands import prepare
    from tests.helpers import snapshot

    root = tmp_path / "tfds"
    (root / "downloads" / "mnist").mkdir(parents=True)  # an earlier attempt's downloads folder
    (root / "downloads" / "mine.txt").write_text("the user's")
    (root / "downloads" / "mnist" / "mine.txt").write_text("the user's")
    (root / "mnist" / "1.0.0").mkdir(parents=True)  # another version, prepared before
    monkeypatch.setattr(prepare, "hosts_that_do_not_resolve", lambda urls: [])  # as online
    for error, kind, said in [
            (ConnectionError("Max retries exceeded"), UserError, "^could not prepare tfds:mnist: Max retries exceeded$"),
            (KeyboardInterrupt(), KeyboardInterrupt,
             "^interrupted: tfds:mnist not prepared; what this attempt made is removed$")]:

        def half_way(self, *args, **kwargs):  # what TFDS makes before a download fails
            (root / "downloads" / "extracted").mkdir()
            (root / "downloads" / "mnist" / "mnist.gz.tmp.0123abcd").mkdir(parents=True)
            (pathlib.Path(self.data_dir) / "half.tfrecord").parent.mkdir(parents=True)
            (pathlib.Path(self.data_dir) / "half.tfrecord").write_bytes(b"\0" * 100)
            raise error

        monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", half_way)
        before = snapshot(root)
        with pytest.raises(kind, match=said):
            prepare.prepare("tfds:mnist", str(root))
        assert snapshot(root) == before


def test_a_sets_folder_that_holds_other_files_is_not_taken_for_the_prepared_set(tmp_path, monkeypatch):
    # TFDS takes an existing version folder for the prepared set ("Reusing dataset"), whatever
    # it holds: prepare said ready, and training then stopped with a traceback (no splits).
    from commands import prepare

    folder = tmp_path / "tfds" / "mnist" / "3.0.1"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("the user's")
    monkeypatch.setattr(prepare, "hosts_that_do_not_resolve", lambda urls: [])  # as online (TFDS downloads nothing)
    with pytest.raises(UserError, match=f"^could not prepare tfds:mnist: {folder} holds files but not the prepared "
                                        "set; move them elsewhere and run this again$"):
        prepare.prepare("tfds:mnist", str(tmp_path / "tfds"))
    with pytest.raises(UserError, match=f"^tfds:mnist is not prepared in {tmp_path / 'tfds'}; prepare it once"):
        data.load_dataset("tfds:mnist", str(tmp_path / "tfds"))
    assert [path.name for path in folder.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("name, reason", [
    ("", "Parsing builder name string  failed."), ("../x", "Parsing builder name string ../x failed."),
    ("cifar10:9.9.9", "Dataset cifar10 cannot be loaded at version 9.9.9, only: 3.0.2."),
    ("cifar10/x=1", "DatasetBuilder.__init__() got an unexpected keyword argument 'x'"),
])
def test_a_tfds_name_that_tfds_cannot_build_is_one_line_in_prepare_and_training(name, reason, tmp_path):
    from commands import prepare

    message = f"^tfds:{re.escape(name)} is not a set TFDS can build \\({re.escape(reason)}\\)$"
    with pytest.raises(UserError, match=message):
        prepare.prepare(f"tfds:{name}", str(tmp_path))
    with pytest.raises(UserError, match=message):
        data.load_dataset(f"tfds:{name}", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_a_data_dir_that_is_a_file_is_said_so_in_prepare_and_training(tmp_path, monkeypatch):
    # prepare said "no internet here ... copy FILE to this machine".
    from commands import prepare

    (tmp_path / "tfds").write_text("not a folder")
    message = f"^--data_dir={re.escape(str(tmp_path / 'tfds'))} is a file, not a folder$"
    with pytest.raises(UserError, match=message):
        prepare.prepare("tfds:mnist", str(tmp_path / "tfds"))
    with pytest.raises(UserError, match=message):
        data.load_dataset("tfds:mnist", str(tmp_path / "tfds"))
    assert [path.name for path in tmp_path.iterdir()] == ["tfds"]
    # Under a file, in TFDS's own variable, and for the sets --data_dir serves without TFDS.
    below = f"--data_dir={tmp_path / 'tfds' / 'sub'} is under {tmp_path / 'tfds'}, which is a file, not a folder"
    with pytest.raises(UserError, match=f"^{re.escape(below)}$"):
        prepare.prepare("tfds:mnist", str(tmp_path / "tfds" / "sub"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    with pytest.raises(UserError, match=f"^TFDS_DATA_DIR={re.escape(str(tmp_path / 'tfds'))} is a file, not a folder$"):
        data.load_dataset("tfds:mnist")
    for name in ("mnist", "fashion_mnist", "cifar10"):
        with pytest.raises(UserError, match=message):
            data.load_dataset(name, str(tmp_path / "tfds"))


def test_the_prepare_command_refuses_a_dataset_that_needs_no_preparing_in_one_line():
    from tests.helpers import own_stderr_lines, run_python

    result = run_python(["-m", "commands.prepare", "--dataset=cifar10"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert own_stderr_lines(result.stderr) == [
        "error: --dataset must be tfds:NAME, not 'cifar10' (the other datasets need no preparing)"]


# ---- a resumed run's data goes on where it stopped ---------------------------------------------


def batch_values(batches, count):
    """The first pixel of every image of the next `count` batches, as image indices (grey level / 20)."""
    return [[int(value) for value in np.rint((images.numpy()[:, 0, 0, 0] + 1.0) * 127.5 / 20)]
            for images, _ in (next(batches) for _ in range(count))]


class TinyGrey:
    """A TFDS set prepared on disk for real (its files, TFDS's reader): 20 flat grey images, level 10 * i."""

    @staticmethod
    def prepare(data_dir):
        import tensorflow_datasets as tfds

        class TinyGreySet(tfds.core.GeneratorBasedBuilder):
            VERSION = tfds.core.Version("1.0.0")

            def _info(self):
                return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                    "image": tfds.features.Image(shape=(8, 8, 3)), "label": tfds.features.ClassLabel(num_classes=2)}))

            def _split_generators(self, dl_manager):
                return {"train": self._generate_examples()}

            def _generate_examples(self):
                for index in range(12):
                    yield index, {"image": np.full((8, 8, 3), 20 * index, np.uint8), "label": index % 2}

        TinyGreySet(data_dir=str(data_dir)).download_and_prepare()
        return data.load_dataset("tfds:tiny_grey_set", str(data_dir), image_size=8)


@pytest.mark.parametrize("kind", ["in memory", "folder", "cached folder", "tfds", "in memory, two replicas"])
def test_a_resumed_pipeline_gives_the_batches_an_uninterrupted_one_gives(tmp_path, kind):
    # 12 images in batches of 5: two batches an epoch. 3 batches and a resume to 9 must see what
    # 9 straight see, across the epochs (each a new order) and from the middle of one.
    keras.utils.set_random_seed(0)  # as a run does: TensorFlow's global seed must not matter
    dataset = grey_folder(tmp_path / "images", 12)
    if kind.startswith("in memory"):
        dataset = data.InMemory(np.stack([data.decode_image(file, 8, 1).numpy() for file in dataset.files]), None, "test")
    if kind == "cached folder":
        dataset = dataset._replace(cache_dir=str(tmp_path / "cache"))
    if kind == "tfds":
        dataset = TinyGrey.prepare(tmp_path / "tfds")
    batch_size, strategy = 5, None
    if kind.endswith("two replicas"):
        batch_size, strategy = 4, tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    def values(batches, count):
        if strategy is None:
            return batch_values(batches, count)
        return [sum((batch_values(iter([(part, None)]), 1)[0] for part in strategy.experimental_local_results(images)),
                    []) for images, _ in (next(batches) for _ in range(count))]

    straight = values(data.make_batches(dataset, batch_size, seed=3, strategy=strategy), 9)
    stopped = data.make_batches(dataset, batch_size, seed=3, strategy=strategy)
    before = values(stopped, 3)
    resumed = data.make_batches(dataset, batch_size, seed=3, strategy=strategy)
    resumed.position.assign(stopped.position)  # what a checkpoint restores
    assert int(stopped.position.numpy()) == 3
    assert before + values(resumed, 6) == straight
    assert straight[3:] != straight[:6], "a restart from the beginning would pass"
    per_epoch = 12 // batch_size
    epochs = [sum(straight[at:at + per_epoch], []) for at in range(0, 9 - per_epoch + 1, per_epoch)]
    assert all(len(set(epoch)) == len(epoch) for epoch in epochs)  # no image twice in an epoch
    assert len({tuple(epoch) for epoch in epochs}) == len(epochs)  # each epoch in a new order
