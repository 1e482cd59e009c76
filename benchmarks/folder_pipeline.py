"""How a streamed image folder feeds training: start-up, rate and memory against its size.

    python benchmarks/folder_pipeline.py                       # 5,000 and 50,000 generated JPEGs
    python benchmarks/folder_pipeline.py --counts 5000 --seconds 5

Writes COUNT JPEGs (96x80, smooth colour fields with noise, so that decoding does real
work) into a scratch folder, then, in a fresh process per row, measures what
`--dataset=folder:PATH --image_size=64` does before and during training, streamed and
with --cache_dir (its first start, which decodes the folder once, then a later start):
  listing    seconds to list the files and check each one's first bytes (load_folder)
  first      seconds from there to the first batch of 64 (decode, crop, resize, scale;
             with a new cache, decoding the whole folder into it first)
  images/s   steady-state rate of the pipeline alone, over --seconds
  peak MiB   the process's peak resident memory (TensorFlow itself is most of it)
The peak must not grow with the folder: nothing but the file list is held in memory
(the cache is read through a memory map, whose pages the system can drop at any time;
they are counted in the peak once read).
"""
import json
import pathlib
import resource
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import arguments  # noqa: E402

BATCH, SIZE = 64, 64


def write_folder(folder, count, seed=0):
    """COUNT JPEGs under FOLDER, 1,000 to a subfolder."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:80, 0:96]
    for index in range(count):
        subfolder = folder / f"{index // 1000:03d}"
        subfolder.mkdir(parents=True, exist_ok=True)
        waves = np.sin(rows / rng.uniform(5, 20) + columns / rng.uniform(5, 20))[..., None]
        field = rng.uniform(0, 255, 3) + 60 * waves + rng.normal(0, 12, (80, 96, 3))
        Image.fromarray(np.clip(field, 0, 255).astype(np.uint8)).save(subfolder / f"{index:06d}.jpg")


def measure(folder, seconds, cache_dir=None):
    """One row, measured in this process."""
    import common  # noqa: F401  (quiets TensorFlow's start-up logging)
    from common import data

    began = time.perf_counter()
    dataset = data.load_dataset(f"folder:{folder}", image_size=SIZE)._replace(cache_dir=cache_dir)
    listed = time.perf_counter()
    batches = data.make_batches(dataset, BATCH, seed=0)
    next(batches)[0].numpy()
    first = time.perf_counter()
    count, began_steady = 0, time.perf_counter()
    while time.perf_counter() - began_steady < seconds:
        next(batches)[0].numpy()
        count += BATCH
    rate = count / (time.perf_counter() - began_steady)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"images": dataset.count, "listing_seconds": listed - began, "first_batch_seconds": first - listed,
            "images_per_sec": rate, "peak_mib": peak}


def main():
    parser = arguments.Parser(description=__doc__)
    parser.add_argument("--counts", type=arguments.number(int, at_least=BATCH), nargs="+", default=[5000, 50000],
                        help=f"images in each folder (at least a batch, {BATCH})")
    parser.add_argument("--seconds", type=arguments.number(float, above=0), default=15.0,
                        help="steady-state measurement per folder")
    parser.add_argument("--json", type=arguments.output_file, help="also write the rows here")
    parser.add_argument("--measure", help=arguments.SUPPRESS)  # a folder, measured in this process
    parser.add_argument("--cache_dir", help=arguments.SUPPRESS)  # with --measure
    args = parser.parse_args()
    arguments.children_end_with_this_process()  # a SIGTERM stops the children this script starts
    if args.measure:
        print(json.dumps(measure(args.measure, args.seconds, args.cache_dir)))
        return

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for count in args.counts:
            folder = pathlib.Path(scratch) / f"jpegs-{count}"
            began = time.perf_counter()
            write_folder(folder, count)
            print(f"wrote {count} JPEGs in {time.perf_counter() - began:.0f} s", flush=True)
            cache = pathlib.Path(scratch) / f"cache-{count}"
            for pipeline, extra in [("streamed", []), ("cache, first start", [f"--cache_dir={cache}"]),
                                    ("cache, later start", [f"--cache_dir={cache}"])]:
                done = arguments.run_child([sys.executable, __file__, f"--measure={folder}",
                                            f"--seconds={args.seconds}", *extra], capture_output=True, text=True)
                if done.returncode != 0:
                    sys.exit(f"error: measuring {count} images failed:\n{done.stderr[-2000:]}")
                rows.append({"pipeline": pipeline, **json.loads(done.stdout.strip().splitlines()[-1])})
                print(rows[-1], flush=True)
    print("\n| images | pipeline | listing s | first batch s | pipeline images/s | peak MiB |\n"
          "| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['images']:,} | {row['pipeline']} | {row['listing_seconds']:.2f} | "
              f"{row['first_batch_seconds']:.2f} | {row['images_per_sec']:,.0f} | {row['peak_mib']:,.0f} |")
    if args.json:
        arguments.write_text_whole(args.json, json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
