"""Training throughput of each variant and image size, with FLOPs and the fraction of peak.

    python benchmarks/benchmark.py                                   # every variant, 28x28
    python benchmarks/benchmark.py --variants wgan_gp --sizes 28 32 64 --json bench.json
    python benchmarks/benchmark.py --jit_compile                     # the same steps under XLA
    python benchmarks/benchmark.py --mixed_precision bfloat16        # 16-bit compute

For each variant and size it builds the variant's own networks, optimizers and
tf.function steps (train.make_models, train.make_steps) at the paper's batch size
and n_critic, warms up (tracing), then times whole generator iterations
(train.train_iteration) fed by the real input pipeline (common.data.make_batches)
and reports
  it/s          generator iterations per second (each = n_critic D updates + 1 G update)
  img/s         real images consumed per second: it/s * n_critic * batch
  input img/s   the input pipeline alone, which must be far above img/s
  GFLOP/it      floating-point operations of one iteration, counted by TensorFlow's
                profiler on the traced graphs (a multiply-add counts 2)
  GFLOP/s       achieved: GFLOP/it * it/s
  % peak        GFLOP/s over a float32 2048x2048 matmul's rate measured in the same run
  % dispatch    the fixed cost of launching the iteration's n_critic + 1 steps (an empty
                distributed tf.function, timed), as a share of the iteration's time
  D ms, G ms    one discriminator update and one generator update, timed on their own
Each variant is measured in a fresh process, so that no variant inherits another's caches or threads.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
SIZES = {28: (28, 28, 1), 32: (32, 32, 3), 64: (64, 64, 3)}


def matmul_peak(n=2048, repeats=10, trials=5):
    """The best float32 matmul rate in FLOP/s: the yardstick for '% peak'."""
    import tensorflow as tf

    a, b = tf.random.normal([n, n]), tf.random.normal([n, n])

    @tf.function
    def chain(x):
        for _ in range(repeats):
            x = tf.matmul(x, b) * 1e-3  # the scale keeps values finite
        return x

    chain(a).numpy()
    best = 0.0
    for _ in range(trials):
        began = time.perf_counter()
        chain(a).numpy()
        best = max(best, repeats * 2 * n**3 / (time.perf_counter() - began))
    return best


def dispatch_overhead(calls=2000):
    """Seconds per call of an empty distributed step: the fixed cost of launching one update."""
    import tensorflow as tf

    from common import devices

    empty = devices.distribute(tf.distribute.get_strategy(), lambda: {"zero": tf.constant(0.0)})
    empty()["zero"].numpy()  # trace
    began = time.perf_counter()
    for _ in range(calls):
        result = empty()
    result["zero"].numpy()
    return (time.perf_counter() - began) / calls


def graph_flops(function, *specs):
    """FLOPs of one call of a tf.function, counted by the profiler on its traced graph."""
    import tensorflow as tf

    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    graph = function.get_concrete_function(*specs).graph
    return tf.compat.v1.profiler.profile(graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=options).total_float_ops


def measure(variant, size, seconds, jit_compile, mixed_precision):
    """One row of the table, measured in this process."""
    import importlib

    import numpy as np
    import tensorflow as tf
    from common import cli, data, devices

    train = importlib.import_module(f"{variant}.train")
    config = cli.default_config(train)
    config["image_shape"] = list(SIZES[size])
    batch_size, n_critic = config["batch_size"], config["n_critic"]

    config.update(jit_compile=jit_compile, mixed_precision=mixed_precision)
    devices.set_precision(config)
    models = train.make_models(config)
    discriminator_step, generator_step = train.make_steps(*models, config, tf.distribute.get_strategy())
    images = np.random.default_rng(0).integers(0, 256, (4096, *SIZES[size]), dtype=np.uint8)
    batches = data.make_batches(data.Dataset(images, None, "random"), batch_size, seed=0)

    began = time.perf_counter()
    for _ in range(200):
        next(batches)
    input_rate = 200 * batch_size / (time.perf_counter() - began)

    for _ in range(2):  # tracing and warm-up
        train.train_iteration(batches, discriminator_step, generator_step, n_critic)["loss/generator"].numpy()
    iterations, began = 0, time.perf_counter()
    while iterations < 3 or time.perf_counter() - began < seconds:
        train.train_iteration(batches, discriminator_step, generator_step, n_critic)["loss/generator"].numpy()
        iterations += 1
    rate = iterations / (time.perf_counter() - began)

    # Where the time goes: each kind of update on its own.
    def seconds_per_call(step, *args, calls=3):
        step(*args)["loss/" + ("discriminator" if args else "generator")].numpy()
        began = time.perf_counter()
        for _ in range(calls):
            result = step(*args)
        list(result.values())[0].numpy()
        return (time.perf_counter() - began) / calls

    real = next(batches)
    d_seconds, g_seconds = seconds_per_call(discriminator_step, *real), seconds_per_call(generator_step)

    # Count on steps traced without XLA: the profiler cannot see inside a compiled cluster,
    # and XLA runs the same arithmetic.
    specs = tf.TensorSpec([batch_size, *SIZES[size]], tf.float32), tf.TensorSpec([batch_size], tf.int32)
    counted = train.make_steps(*models, {**config, "jit_compile": False}, tf.distribute.get_strategy())
    flops = n_critic * graph_flops(counted[0], *specs) + graph_flops(counted[1])
    return {
        "variant": variant, "size": size, "batch_size": batch_size, "n_critic": n_critic,
        "jit_compile": jit_compile, "mixed_precision": mixed_precision,
        "iterations_per_sec": rate, "images_per_sec": rate * n_critic * batch_size, "input_images_per_sec": input_rate,
        "discriminator_step_ms": 1e3 * d_seconds, "generator_step_ms": 1e3 * g_seconds,
        "gflop_per_iteration": flops / 1e9, "gflop_per_sec": flops * rate / 1e9,
    }


def worker(args):
    sys.path.insert(0, str(REPO))
    import common  # noqa: F401  (quiets TensorFlow's start-up logging)

    peak, overhead = matmul_peak(), dispatch_overhead()
    for size in args.sizes:
        row = measure(args.variants[0], size, args.seconds, args.jit_compile, args.mixed_precision)
        row["peak_gflop_per_sec"] = peak / 1e9
        # n_critic + 1 step calls per iteration
        row["dispatch_share"] = overhead * (row["n_critic"] + 1) * row["iterations_per_sec"]
        row["dispatch_microseconds_per_call"] = overhead * 1e6
        print(json.dumps(row), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["dcgan", "wgan", "wgan_gp"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[28], choices=sorted(SIZES))
    parser.add_argument("--seconds", type=float, default=20.0, help="timed seconds per row, after warm-up")
    parser.add_argument("--jit_compile", action="store_true", help="compile the steps with XLA")
    parser.add_argument("--mixed_precision", default="off", choices=["off", "float16", "bfloat16"])
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    import platform

    rows = []
    print(f"{platform.machine()}, {os.cpu_count()} CPUs; jit_compile={args.jit_compile}, "
          f"mixed_precision={args.mixed_precision}")
    print(f"{'variant':<8} {'size':>4} {'batch':>5} {'n_crit':>6} {'it/s':>7} {'img/s':>7} {'input img/s':>11}"
          f" {'GFLOP/it':>8} {'GFLOP/s':>7} {'% peak':>6} {'% dispatch':>10} {'D ms':>7} {'G ms':>7}")
    for variant in args.variants:
        command = [sys.executable, __file__, "--worker", "--variants", variant, "--seconds", str(args.seconds),
                   "--sizes", *map(str, args.sizes), "--mixed_precision", args.mixed_precision]
        command += ["--jit_compile"] if args.jit_compile else []
        result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
        if result.returncode != 0:
            sys.exit(f"{variant} failed:\n{result.stderr[-2000:]}")
        for line in result.stdout.splitlines():
            row = json.loads(line)
            rows.append(row)
            print(f"{row['variant']:<8} {row['size']:>4} {row['batch_size']:>5} {row['n_critic']:>6}"
                  f" {row['iterations_per_sec']:>7.3f} {row['images_per_sec']:>7.0f} {row['input_images_per_sec']:>11.0f}"
                  f" {row['gflop_per_iteration']:>8.1f} {row['gflop_per_sec']:>7.1f}"
                  f" {100 * row['gflop_per_sec'] / row['peak_gflop_per_sec']:>6.1f}"
                  f" {100 * row['dispatch_share']:>10.2f}"
                  f" {row['discriminator_step_ms']:>7.0f} {row['generator_step_ms']:>7.0f}", flush=True)
    if rows:
        peaks = [row["peak_gflop_per_sec"] for row in rows]
        calls = [row["dispatch_microseconds_per_call"] for row in rows]
        print(f"matmul peak, measured in each process: {min(peaks):.0f}-{max(peaks):.0f} GFLOP/s (float32 2048x2048)")
        print(f"launching one step costs {min(calls):.0f}-{max(calls):.0f} us; '% dispatch' is that cost's share of "
              "an iteration's time")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
