"""A folder's images decoded once into one file on disk (--cache_dir), then read by index.

Streaming a folder decodes every JPEG again in every epoch; with --cache_dir the first
start decodes them once (centre-cropped and resized, as training sees them) into
CACHE_DIR/KEY/images.u8, a plain uint8 array [N, size, size, 3], and every later epoch
and start reads batches from it by shuffled index, image by image (os.pread): memory
does not grow with the cache, which the system's file cache keeps in memory if it can. The key is a digest of the file
list with each file's size and modification time, and of the image size: a changed
folder gets a new entry.

The array is written as images.u8.partial and renamed when complete, and images.json,
written last, says how many images it holds: a start that is killed half-way leaves
no entry, only a .partial that the next start writes over.
"""
import hashlib
import json
import os
import pathlib
import sys
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from common import rundir


class CachedImages(NamedTuple):
    path: str  # images.u8: uint8 [count, size, size, 3], row after row
    count: int
    size: int


def cache_key(files, size):
    """A digest of the files (path, bytes, modification time) and the image side."""
    digest = hashlib.sha256(f"{size}\n".encode())
    for file in files:
        stat = os.stat(file)
        digest.update(f"{file}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def cached_images(files, size, cache_dir, decode):
    """The decoded images of `files` on disk, as CachedImages (count may be below len(files)).

    decode: path -> uint8 [size, size, 3] (common.data.decode_image at this size).
    Built on the first call (broken images are left out, as streaming leaves them out);
    later calls only read its images.json.
    """
    entry = pathlib.Path(cache_dir) / cache_key(files, size)
    array, index = entry / "images.u8", entry / "images.json"
    if not index.is_file():
        entry.mkdir(parents=True, exist_ok=True)
        print(f"caching {len(files)} images ({size}x{size}) in {entry}: once; later starts read them from there",
              file=sys.stderr, flush=True)
        count = write_images(files, decode, array)
        rundir.write_json(index, {"images": count, "size": size, "files": len(files)})
    return CachedImages(str(array), json.loads(index.read_text())["images"], size)


def write_images(files, decode, array):
    """Decodes `files` in order on tf.data's threads into `array`; returns how many were written."""
    partial = array.with_name(array.name + ".partial")
    paths = tf.data.Dataset.from_tensor_slices(list(files))
    images = paths.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    count = 0
    with open(partial, "wb") as f:
        for batch in images.ignore_errors().batch(256).prefetch(2).as_numpy_iterator():
            f.write(batch.tobytes())
            count += len(batch)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, array)
    return count


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

    def read(indices):
        batch = tf.numpy_function(gather, [indices], tf.uint8, stateful=False)
        batch_size = indices.shape[0]
        return tf.ensure_shape(batch, [batch_size, *shape]), tf.zeros([batch_size], tf.int32)

    return index_batches.map(read, num_parallel_calls=tf.data.AUTOTUNE)
