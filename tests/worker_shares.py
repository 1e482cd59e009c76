"""Run as one of several workers (TF_CONFIG set): prints, as JSON, the images of a folder
that this worker's input pipeline gave it over `--batches` global batches.

    python tests/worker_shares.py FOLDER BATCHES

The folder's images are flat grey levels 20 * i, so each decodes back to its index i.
tests/test_devices.py starts two of these on localhost.
"""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from common import data, devices  # noqa: E402


def main(folder, batches):
    strategy = devices.make_strategy("multi_worker")
    dataset = data.load_dataset(f"folder:{folder}", image_size=8)
    iterator = data.make_batches(dataset, strategy.num_replicas_in_sync, seed=0, strategy=strategy)
    seen = []
    for _ in range(batches):
        images, _ = next(iterator)
        for local in strategy.experimental_local_results(images):
            seen += [round((float(image[0, 0, 0]) + 1.0) * 127.5 / 20) for image in local]
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "seen": seen}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
