"""Image grids and PNG files."""
import math
import pathlib

import numpy as np

from arguments import written_whole


def to_uint8(images):
    """float images in [-1, 1] -> uint8 in 0..255 (values outside the range are clipped; NaN,
    from a generator that blew up, is drawn as 0: mid-grey, 128)."""
    images = np.nan_to_num(np.asarray(images, np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def grid(images, columns=None, padding=2):
    """Tiles uint8 images [N, H, W, C] into one uint8 image, row by row, on a black background."""
    images = np.asarray(images)
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    canvas = np.zeros(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels), np.uint8
    )
    for index, image in enumerate(images):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        canvas[top:top + height, left:left + width] = image
    return canvas


def save_png(image, path):
    """Writes a uint8 [H, W, C] image (C = 1 or 3); the file appears whole or not at all."""
    from PIL import Image

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    array = image[..., 0] if image.shape[-1] == 1 else image
    with written_whole(path) as partial:
        Image.fromarray(array).save(partial, format="PNG")
