"""A folder's images decoded once into one file on disk (--cache_dir), then read by index.

Streaming a folder decodes every JPEG again in every epoch; with --cache_dir the first
start decodes them once (upright, on white, centre-cropped and resized, as training sees
them) into CACHE_DIR/KEY/images.u8, a plain uint8 array [N, size, size, 3], and every later
epoch and start reads batches from it by shuffled index, image by image (os.pread): memory
does not grow with the cache, which the system's file cache keeps in memory if it can.

KEY is a digest of the image size, of how decoding works (DECODING), and of the file list
with each file's size, modification time, status-change time (ctime) and inode: a changed
folder gets a new entry. A file replaced by a copy that keeps its size and modification
time (`cp -p`, `rsync -t`, `tar x`) still changes its ctime, which no user can set, and
usually its inode; so does a chmod, which costs a rebuild but never stale images.

Several runs may share a cache and start at once. A build writes into its own directory,
KEY.building-PID-RANDOM, and renames it to KEY when complete; a rename is atomic, so an entry
is there whole or not at all. While it builds, it holds an exclusive lock (flock) on
KEY.lock, so that a second start waits for the first one's entry instead of decoding the
folder again. On a file system that refuses locks, two starts may both build: the first
rename wins and the other build is discarded. A build that is killed leaves its
KEY.building-* directory, which the next build of that key removes (with the lock held,
no other build of it is running).
"""
import contextlib
import hashlib
import json
import os
import pathlib
import secrets
import shutil
import sys
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from arguments import DISK_FULL
from common.cli import UserError

try:
    import fcntl  # file locks (Unix); without it, builds go unlocked as on a file system that refuses locks
except ImportError:
    fcntl = None

ARRAY, INDEX = "images.u8", "images.json"
# Part of every key: change it whenever decoding changes the pixels an entry holds, so that
# old entries are not read as new ones. 2: EXIF orientation and transparency on white.
DECODING = 2


class CachedImages(NamedTuple):
    path: str  # images.u8: uint8 [count, size, size, 3], row after row
    count: int
    size: int


def cache_key(files, size):
    """A digest of the files (path, bytes, modification time, ctime, inode), the image side and DECODING."""
    digest = hashlib.sha256(f"{DECODING}\n{size}\n".encode())
    for file in files:
        stat = os.stat(file)
        digest.update(f"{file}\t{stat.st_size}\t{stat.st_mtime_ns}\t{stat.st_ctime_ns}\t{stat.st_ino}\n".encode())
    return digest.hexdigest()[:20]


def cached_images(files, size, cache_dir, decode):
    """The decoded images of `files` on disk, as CachedImages (count may be below len(files)).

    decode: path -> uint8 [size, size, 3] (common.data.folder_decoder of the folder).
    Built on the first call (broken images are left out, as streaming leaves them out);
    later calls only read its images.json. Safe to call from several processes at once.
    """
    root = pathlib.Path(cache_dir)
    key = cache_key(files, size)
    entry = root / key
    if not (entry / INDEX).is_file():
        try:
            root.mkdir(parents=True, exist_ok=True)
            os.close(os.open(root / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o666))
        except OSError as error:
            raise UserError(f"--cache_dir={cache_dir} cannot hold a cache: {error.strerror or error}") from None
        waiting = f"waiting for another start that is caching these images in {entry}"
        with exclusive_lock(root / f"{key}.lock", waiting) as locked:
            if not (entry / INDEX).is_file():  # not built while this one waited
                try:
                    build(entry, files, size, decode, clean=locked)
                except OSError as error:
                    if error.errno not in DISK_FULL:
                        raise
                    raise UserError(f"--cache_dir={cache_dir} cannot hold a cache: {error.strerror} for {len(files)} "
                                    f"images of {size}x{size} ({len(files) * size * size * 3 / 1e6:.3g} MB); free "
                                    "some space there, or choose another --cache_dir") from None
    return CachedImages(str(entry / ARRAY), json.loads((entry / INDEX).read_text())["images"], size)


@contextlib.contextmanager
def exclusive_lock(path, waiting):
    """Holds an exclusive flock on `path` (created if need be); says `waiting` once if it has to wait.

    Yields True, or False where the file system refuses locks. The system releases the
    lock when the process ends, however it ends.
    """
    if fcntl is None:
        yield False
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except BlockingIOError:  # another process holds it
            print(waiting, file=sys.stderr, flush=True)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            locked = True
        except OSError:  # no locks here (ENOLCK, EOPNOTSUPP)
            locked = False
        yield locked
    finally:
        os.close(descriptor)  # releases the lock


def build(entry, files, size, decode, clean):
    """Decodes `files` into a new directory and renames it to `entry`, which appears whole or not at all.

    clean: whether no other build of this entry can be running (the lock is held), so that
    directories left by killed builds may be removed.
    """
    if clean:
        for stale in entry.parent.glob(f"{entry.name}.building-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if entry.exists():  # without images.json: not made by a build, which renames only complete ones
            shutil.rmtree(entry)
    building = entry.with_name(f"{entry.name}.building-{os.getpid()}-{secrets.token_hex(4)}")
    building.mkdir()
    try:
        print(f"caching {len(files)} images ({size}x{size}) in {entry}: once; later starts read them from there",
              file=sys.stderr, flush=True)
        count = write_images(files, decode, building / ARRAY)
        write_synced(building / INDEX, json.dumps({"images": count, "size": size, "files": len(files)}) + "\n")
        try:
            os.rename(building, entry)
        except OSError:
            if not (entry / INDEX).is_file():
                raise
            shutil.rmtree(building)  # another build of the same images got there first: use its entry
        sync_directory(entry.parent)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def write_images(files, decode, array):
    """Decodes `files` in order on tf.data's threads into `array`; returns how many were written."""
    paths = tf.data.Dataset.from_tensor_slices(list(files))
    images = paths.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    count = 0
    with open(array, "wb") as f:
        for batch in images.ignore_errors().batch(256).prefetch(2).as_numpy_iterator():
            f.write(batch.tobytes())
            count += len(batch)
        f.flush()
        os.fsync(f.fileno())
    return count


def write_synced(path, text):
    """Writes `text` to `path` and waits until it is on disk."""
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def sync_directory(path):
    """Waits until a rename inside directory `path` is on disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_batches(cached, index_batches):
    """A tf.data.Dataset of (uint8 images [batch_size, size, size, 3], int32 zero labels) read
    from a cache: one batch for each int64 [batch_size] batch of indices in `index_batches`
    (common.data.epoch_order gives the shuffled ones)."""
    shape = (cached.size, cached.size, 3)
    image_bytes = int(np.prod(shape))
    file = os.open(cached.path, os.O_RDONLY)  # open for the life of the process, as tf.data's readers are

    def gather(indices):
        # Read in file order, so that the reads go forward through the file, then put back in
        # the batch's own order (which resumes and sharded runs reproduce).
        order = np.argsort(indices)
        chunks = [os.pread(file, image_bytes, int(index) * image_bytes) for index in indices[order]]
        images = np.frombuffer(b"".join(chunks), np.uint8).reshape(len(indices), *shape)
        return images[np.argsort(order)]

    @tf.autograph.experimental.do_not_convert  # (as common/data.py's pipelines: traced as written)
    def read(indices):
        batch = tf.numpy_function(gather, [indices], tf.uint8, stateful=False)
        batch_size = indices.shape[0]
        return tf.ensure_shape(batch, [batch_size, *shape]), tf.zeros([batch_size], tf.int32)

    return index_batches.map(read, num_parallel_calls=tf.data.AUTOTUNE)
