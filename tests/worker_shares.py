"""Run as one of several workers (TF_CONFIG set): writes to SHARES, as JSON, the images of a
folder that this worker's input pipeline gave it over BATCHES global batches; then runs
`python PROGRAM ARGS` in this same process, as that command runs, on small stand-in networks
(tests/helpers.py: small_networks; the chief and worker of the other test train the real ones).

    python tests/worker_shares.py FOLDER BATCHES SHARES PROGRAM [ARGS...]

The folder's images are flat grey levels 20 * i, so each decodes back to its index i.
tests/test_devices.py starts two of these on localhost with wgan_gp/train.py as PROGRAM: the
two workers that train check the shares first (each TensorFlow process takes seconds to start).
"""
import json
import pathlib
import runpy
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from common import data, devices  # noqa: E402
from tests.helpers import small_networks  # noqa: E402


def shares(strategy, folder, batches):
    """{"replicas": the cluster's, "seen": the image indices this worker was given}."""
    dataset = data.load_dataset(f"folder:{folder}", image_size=8)
    iterator = data.make_batches(dataset, strategy.num_replicas_in_sync, seed=0, strategy=strategy)
    seen = []
    for _ in range(batches):
        images, _ = next(iterator)
        for local in strategy.experimental_local_results(images):
            seen += [round((float(image[0, 0, 0]) + 1.0) * 127.5 / 20) for image in local]
    return {"replicas": strategy.num_replicas_in_sync, "seen": seen}


if __name__ == "__main__":
    folder, batches, report, program, *arguments = sys.argv[1:]
    strategy = devices.make_strategy("multi_worker")
    pathlib.Path(report).write_text(json.dumps(shares(strategy, folder, int(batches))))
    # A second MultiWorkerMirroredStrategy in one process restarts the cluster's health checks,
    # and a worker can find the other gone: PROGRAM's --strategy=multi_worker gets this one.
    make_strategy = devices.make_strategy
    devices.make_strategy = lambda name: strategy if name == "multi_worker" else make_strategy(name)
    sys.argv = [program, *arguments]
    with small_networks():
        runpy.run_path(program, run_name="__main__")
