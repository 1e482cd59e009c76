"""Image folders: EXIF orientation, transparency, small images, too few decodable images,
and a --cache_dir shared by concurrent starts and by files replaced behind its back."""
import os
import pathlib
import shutil
import threading

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageOps

from common import data, image_cache
from common.cli import UserError
from tests.helpers import fill_disk, train_in_process

# PIL.ImageOps.exif_transpose's method for each EXIF orientation (1: none), and the orientation
# that undoes it: rotating by 270 degrees undoes rotating by 90; the other five undo themselves.
TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
             5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_90}
UNDO = {orientation: {6: 8, 8: 6}.get(orientation, orientation) for orientation in range(1, 9)}
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def quadrants(height=32, width=48):
    """An upright test picture: top-left red, top-right green, bottom-left blue, bottom-right white."""
    picture = np.zeros((height, width, 3), np.uint8)
    picture[:height // 2, :width // 2], picture[:height // 2, width // 2:] = RED, GREEN
    picture[height // 2:, :width // 2], picture[height // 2:, width // 2:] = BLUE, WHITE
    return picture


def save_oriented(path, upright, orientation):
    """Saves `upright` turned so that a viewer applying EXIF `orientation` shows it upright."""
    stored = Image.fromarray(upright)
    if orientation != 1:
        stored = stored.transpose(TRANSPOSE[UNDO[orientation]])
    exif = Image.Exif()
    exif[0x0112] = orientation  # the Orientation tag
    path.parent.mkdir(parents=True, exist_ok=True)
    stored.save(path, exif=exif, **({"quality": 95} if path.suffix == ".jpg" else {}))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_upright_turns_pixels_as_pillow_exif_transpose_does(tmp_path, orientation):
    stored = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    save_oriented(tmp_path / "a.png", stored, 1)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(tmp_path / "b.png", exif=exif)  # the same pixels, tagged
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "b.png")).convert("RGB"))
    np.testing.assert_array_equal(data.upright(tf.constant(stored), tf.constant(orientation)).numpy(), expected)
    dataset = data.load_dataset(f"folder:{tmp_path}", image_size=3)
    assert dataset.orientations == (1, orientation)  # read from each file's header at start-up


def mean_colour(image, rows, columns):
    return image[rows, columns].reshape(-1, 3).mean(axis=0)


def transparent_pngs(folder):
    """Five 8x8 PNGs, one per kind of transparency: the left half transparent over a hidden colour."""
    hidden = np.zeros((8, 8, 4), np.uint8)
    hidden[:, :4] = (255, 0, 0, 0)  # red under alpha 0
    hidden[:, 4:] = (0, 0, 255, 255)  # opaque blue
    hidden[0, 7] = (0, 0, 0, 128)  # half-transparent black
    Image.fromarray(hidden).save(folder / "rgba.png")
    grey = np.tile(np.where(np.arange(8) < 4, 0, 60), (8, 1)).astype(np.uint8)  # black under alpha 0
    Image.fromarray(np.stack([grey, hidden[..., 3]], -1)).save(folder / "grey_alpha.png")
    palette = Image.frombytes("P", (8, 8), np.tile(np.arange(8) >= 4, (8, 1)).astype(np.uint8).tobytes())
    palette.putpalette([255, 0, 0, 0, 0, 255])  # entry 0 red, entry 1 blue
    palette.save(folder / "palette.png", transparency=0)  # tRNS: entry 0 transparent
    Image.fromarray(grey).save(folder / "grey_key.png", transparency=0)  # tRNS: grey 0 transparent
    Image.fromarray(hidden[..., :3].copy()).save(folder / "colour_key.png", transparency=RED)  # tRNS: red


def test_transparent_pixels_of_every_kind_of_png_are_white(tmp_path):
    transparent_pngs(tmp_path)
    dataset = data.load_dataset(f"folder:{tmp_path}", image_size=8)
    decode = data.folder_decoder(dataset)
    for file in dataset.files:
        image = decode(file).numpy()
        assert (image[:, :4] == 255).all(), f"{file}: the hidden colour must not show through"
        opaque = (60, 60, 60) if "grey" in file else BLUE
        assert (image[1:, 4:] == opaque).all(), file
    rgba = decode(str(tmp_path / "rgba.png")).numpy()
    assert rgba[0, 7].tolist() == [127] * 3  # round((0 * 128 + 255 * 127) / 255): half way to white


def test_folder_images_are_upright_and_the_same_streamed_and_cached(tmp_path):
    # Eight JPEGs and eight PNGs of one picture, stored turned by each EXIF orientation;
    # and the five transparent PNGs.
    folder = tmp_path / "images"
    for orientation in range(1, 9):
        for suffix in (".jpg", ".png"):
            save_oriented(folder / f"{orientation}{suffix}", quadrants(), orientation)
    transparent_pngs(folder)
    dataset = data.load_dataset(f"folder:{folder}", image_size=16)
    oriented = [file for file in dataset.files if pathlib.Path(file).stem.isdigit()]
    decode = data.folder_decoder(dataset)
    for file in oriented:
        image = decode(file).numpy().astype(int)
        # The centre square of the 48x32 picture keeps its four quadrants; JPEG blurs only their edges.
        for (rows, columns), colour in zip([(slice(2, 6), slice(2, 6)), (slice(2, 6), slice(10, 14)),
                                            (slice(10, 14), slice(2, 6)), (slice(10, 14), slice(10, 14))],
                                           [RED, GREEN, BLUE, WHITE]):
            np.testing.assert_allclose(mean_colour(image, rows, columns), colour, atol=20, err_msg=file)

    count = dataset.count
    streamed = next(data.worker_batches(dataset, count, seed=0).as_numpy_iterator())[0]
    cached = next(data.worker_batches(dataset._replace(cache_dir=str(tmp_path / "cache")), count, seed=0)
                  .as_numpy_iterator())[0]
    direct = np.stack([decode(file).numpy() for file in dataset.files])

    def in_order(batch):  # a batch holds the epoch in a shuffled order; uint8 again, sorted by content
        images = np.rint((batch + 1.0) * 127.5).astype(np.uint8)
        return images[np.lexsort(images.reshape(len(images), -1).T)]

    np.testing.assert_array_equal(in_order(streamed), in_order(cached))
    np.testing.assert_array_equal(in_order(streamed), in_order(direct.astype(np.float32) / 127.5 - 1.0))


def test_images_smaller_than_the_training_side_are_counted_in_a_warning(tmp_path, capsys):
    for name, (height, width) in {"a.png": (10, 40), "b.png": (12, 12), "c.png": (16, 40), "d.jpg": (40, 40)}.items():
        Image.new("RGB", (width, height)).save(tmp_path / name)
    data.load_dataset(f"folder:{tmp_path}", image_size=16)
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("WARNING")]
    assert warnings == [f"WARNING: folder dataset: 2 of 4 images have a side shorter than 16 and are upscaled "
                        f"to 16x16 ({tmp_path / 'a.png'}, {tmp_path / 'b.png'})"]


def broken_folder(folder, good, broken):
    """`good` decodable PNGs and `broken` ones whose header is sound and whose pixel data is cut off."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(good + broken):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    for index in range(good, good + broken):
        path = folder / f"{index}.png"
        path.write_bytes(path.read_bytes()[:100])


@pytest.mark.parametrize("cache", [False, True], ids=["streamed", "cached"])
def test_fewer_decodable_images_than_a_batch_stop_before_anything_is_written(tmp_path, cache):
    broken_folder(tmp_path / "images", good=3, broken=6)
    extra = [f"--cache_dir={tmp_path / 'cache'}"] if cache else []
    with pytest.raises(UserError) as error:  # a batch of 8 (tests.helpers.TINY)
        train_in_process("dcgan", tmp_path / "run", f"--dataset=folder:{tmp_path / 'images'}", "--image_size=28",
                         "--train_steps=1", *extra)
    assert str(error.value) == "--batch_size=8 is larger than the dataset (9 images, of which 3 decode)"
    assert not (tmp_path / "run").exists()


def test_start_up_decodes_only_a_batch_of_a_folders_share(tmp_path):
    broken_folder(tmp_path / "images", good=10, broken=2)
    dataset = data.load_dataset(f"folder:{tmp_path / 'images'}", image_size=8)
    assert data.count_decodable(dataset, 0, 1, 5) == 5  # stops there
    assert data.count_decodable(dataset, 0, 1, 100) == 10
    assert data.count_decodable(dataset, 1, 2, 100) == 5  # files 1, 3, 5, 7, 9 (11 is broken)


def folder_of_grey(folder, levels, compress_level=0):
    """One 6x6 PNG per grey level, uncompressed so that every file has the same size."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, level in enumerate(levels):
        Image.new("RGB", (6, 6), (level,) * 3).save(folder / f"{index:02d}.png", compress_level=compress_level)
    return data.load_dataset(f"folder:{folder}", image_size=6)


def cached_levels(dataset, cache_dir):
    """The grey level of each image in the cache entry of `dataset`'s files."""
    cached = image_cache.cached_images(dataset.files, 6, cache_dir, data.folder_decoder(dataset))
    return np.fromfile(cached.path, np.uint8).reshape(cached.count, -1)[:, 0].tolist()


@pytest.mark.parametrize("how", ["in place (cp -p)", "by rename (rsync -t, tar x)"])
def test_a_file_replaced_with_the_same_size_and_modification_time_rebuilds_the_cache(tmp_path, how):
    dataset = folder_of_grey(tmp_path / "images", [10, 20, 30])
    assert cached_levels(dataset, tmp_path / "cache") == [10, 20, 30]
    target = pathlib.Path(dataset.files[1])
    Image.new("RGB", (6, 6), (200,) * 3).save(tmp_path / "new.png", compress_level=0)
    before = target.stat()
    assert (tmp_path / "new.png").stat().st_size == before.st_size
    os.utime(tmp_path / "new.png", ns=(before.st_atime_ns, before.st_mtime_ns))
    if how.startswith("in place"):
        shutil.copy2(tmp_path / "new.png", target)  # what `cp -p` does: the same inode, rewritten
    else:
        os.replace(tmp_path / "new.png", target)  # what rsync and tar do: a new file under the old name
    after = target.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert cached_levels(dataset, tmp_path / "cache") == [10, 200, 30]


def concurrent_builds(dataset, cache_dir, monkeypatch, both_at_once):
    """Two threads get the cache entry of `dataset` at the same moment; returns their results
    and how many builds decoded the folder. With both_at_once, each build waits inside
    write_images until the other is there too (no lock can keep them apart)."""
    write_images, builds = image_cache.write_images, []
    meeting = threading.Barrier(2, timeout=60)

    def slow_write(*args):
        builds.append(threading.get_ident())
        if both_at_once:
            meeting.wait()
        return write_images(*args)

    monkeypatch.setattr(image_cache, "write_images", slow_write)
    start, results, errors = threading.Barrier(2, timeout=60), [], []

    def start_run():
        try:
            start.wait()
            results.append(image_cache.cached_images(dataset.files, 6, cache_dir, data.folder_decoder(dataset)))
        except BaseException as error:  # reported by the test
            errors.append(error)

    threads = [threading.Thread(target=start_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results, len(builds)


def test_two_starts_building_one_cache_entry_at_once_wait_for_one_build(tmp_path, monkeypatch, capsys):
    dataset = folder_of_grey(tmp_path / "images", [10 * index for index in range(1, 21)])
    results, builds = concurrent_builds(dataset, tmp_path / "cache", monkeypatch, both_at_once=False)
    assert builds == 1 and results[0] == results[1]
    assert np.fromfile(results[0].path, np.uint8).reshape(20, -1)[:, 0].tolist() == [10 * i for i in range(1, 21)]
    assert sorted(path.suffix for path in (tmp_path / "cache").iterdir()) == ["", ".lock"]


def test_two_builds_of_one_entry_without_a_lock_leave_one_good_entry(tmp_path, monkeypatch):
    def no_locks(descriptor, operation):
        raise OSError(37, "No locks available")  # ENOLCK, as some network file systems say

    monkeypatch.setattr(image_cache.fcntl, "flock", no_locks)
    dataset = folder_of_grey(tmp_path / "images", [10 * index for index in range(1, 21)])
    results, builds = concurrent_builds(dataset, tmp_path / "cache", monkeypatch, both_at_once=True)
    assert builds == 2 and results[0] == results[1]  # the first rename wins; the other build is discarded
    assert np.fromfile(results[0].path, np.uint8).reshape(20, -1)[:, 0].tolist() == [10 * i for i in range(1, 21)]
    assert sorted(path.suffix for path in (tmp_path / "cache").iterdir()) == ["", ".lock"]


def small_folder(folder, count=8):
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        Image.new("RGB", (30, 30), (20 * index, 0, 0)).save(folder / f"{index}.png")
    return folder


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_a_cache_dir_that_cannot_be_a_folder_is_one_line(tmp_path, where):
    small_folder(tmp_path / "images")
    (tmp_path / "file").write_text("not a folder")
    cache_dir = tmp_path / "file" if where == "a file" else tmp_path / "file" / "cache"
    with pytest.raises(UserError, match=f"--cache_dir={cache_dir} cannot hold a cache: "):
        train_in_process("dcgan", tmp_path / "run", f"--dataset=folder:{tmp_path / 'images'}", "--image_size=28",
                         f"--cache_dir={cache_dir}", "--train_steps=1")
    assert not (tmp_path / "run").exists()


def test_a_cache_that_does_not_fit_on_the_disk_is_one_line_with_its_size_and_leaves_nothing(tmp_path, monkeypatch):
    # It said "error: No space left on device", naming neither the folder nor the space it needs.
    dataset = folder_of_grey(tmp_path / "images", [10, 20, 30])
    cache_dir = tmp_path / "cache"
    fill_disk(monkeypatch, cache_dir)
    with pytest.raises(UserError) as error:
        image_cache.cached_images(dataset.files, 6, cache_dir, data.folder_decoder(dataset))
    assert str(error.value) == (f"--cache_dir={cache_dir} cannot hold a cache: No space left on device for 3 "
                                "images of 6x6 (0.000324 MB); free some space there, or choose another --cache_dir")
    assert [path.name for path in cache_dir.iterdir()] == [f"{image_cache.cache_key(dataset.files, 6)}.lock"]


def test_a_file_whose_name_is_not_utf8_is_skipped_with_a_warning(tmp_path, capsys):
    # TensorFlow takes UTF-8 paths only: a Latin-1 name among the images ended in a ValueError traceback.
    folder = small_folder(tmp_path / "images")
    latin1 = os.fsdecode(bytes(folder) + b"/caf\xe9.png")
    os.replace(folder / "0.png", latin1)
    dataset = data.load_dataset(f"folder:{folder}", image_size=28)
    assert dataset.files == tuple(str(folder / f"{index}.png") for index in range(1, 8))
    assert capsys.readouterr().err == (f"WARNING: folder dataset: skipping 1 of 8 files whose names are not UTF-8 "
                                       f"text, which TensorFlow cannot open ({folder}/caf\\xe9.png); rename them\n")


@pytest.mark.usefixtures("stand_in_networks")
def test_a_folder_named_another_way_resumes_and_a_changed_one_is_said(tmp_path, monkeypatch, capsys):
    small_folder(tmp_path / "images")
    monkeypatch.chdir(tmp_path)
    argv = ["--image_size=28", "--checkpoint_every=1"]
    train_in_process("dcgan", tmp_path / "run", "--dataset=folder:images", *argv, "--train_steps=1")
    train_in_process("dcgan", tmp_path / "run", f"--dataset=folder:{tmp_path / 'images'}/", *argv, "--train_steps=2")
    output = capsys.readouterr()
    assert "resuming at generator iteration 1" in output.out and "warning" not in output.err
    small_folder(tmp_path / "images", 9)  # one image more: the epochs' order changes
    # Said when the run's settings are checked, before any training: a start with nothing to train shows it.
    train_in_process("dcgan", tmp_path / "run", "--dataset=folder:./images", *argv, "--train_steps=2")
    output = capsys.readouterr()
    assert "warning: the folder changed since the run began" in output.err
    assert "resuming at generator iteration 2" in output.out
