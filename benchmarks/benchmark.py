"""Training throughput of each variant and image size, with FLOPs and the fraction of peak.

    python benchmarks/benchmark.py                                   # every variant, 28x28
    python benchmarks/benchmark.py --variants wgan_gp --sizes 28 32 64 --json bench.json
    python benchmarks/benchmark.py --jit_compile                     # the same steps under XLA
    python benchmarks/benchmark.py --mixed_precision bfloat16        # 16-bit compute
    python benchmarks/benchmark.py --profile --variants wgan_gp     # where the time goes, op by op

For each variant and size it builds the variant's own networks, optimizers and
tf.function steps (train.make_models, train.make_steps) at the paper's batch size
and n_critic, warms up (tracing), then times whole generator iterations
(train.train_iteration) fed by the real input pipeline (common.data.make_batches)
and reports
  it/s          generator iterations per second (each = n_critic D updates + 1 G update)
  img/s         real images consumed per second: it/s * n_critic * batch
  input img/s   the input pipeline alone, which must be far above img/s
  GFLOP/it      floating-point operations of one iteration: the convolutions and matmuls
                of the traced graphs, from their shapes (a multiply-add counts 2)
  GFLOP/s       achieved: GFLOP/it * it/s
  % peak        GFLOP/s over a float32 1024x1024 matmul's rate measured in the same run
  x textbook    for wgan_gp: it/s over that of benchmarks/baseline_wgan_gp.py's textbook
                iteration (same size, batch, n_critic and precision), measured in the same process
  % dispatch    the fixed cost of launching the iteration's n_critic + 1 steps (an empty
                distributed tf.function, timed), as a share of the iteration's time
  D ms, G ms    one discriminator update and one generator update, timed on their own
Each variant is measured in a fresh process, so that no variant inherits another's caches or threads.

With --profile it also traces --profile_iterations whole iterations with TensorFlow's
profiler and prints, for each kind of op (oneDNN's _MklNative* kernels folded into the
op they implement), its time per iteration, its share of all op time, its FLOPs per
iteration (graph_flops_by_op's count for that op type) and so its own GFLOP/s, next to
the matmul rate. Op times are summed over TensorFlow's compute threads; when two ops run
at once their times overlap, which the "op time / wall" ratio shows.
"""
import collections
import json
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import arguments  # noqa: E402
import variants  # noqa: E402

SIZES = {28: (28, 28, 1), 32: (32, 32, 3), 64: (64, 64, 3)}


def matmul_peak(n=1024, repeats=20, trials=5):
    """The best float32 matmul rate in FLOP/s: the yardstick for '% peak'.

    1024x1024 comes within about 2% of 2048x2048's rate for a quarter of the CPU time (2.5 CPU-s
    against 9.6 on the 2-core development machine; docs/speed.md).
    """
    import tensorflow as tf

    a, b = tf.random.normal([n, n]), tf.random.normal([n, n])
    scale = 1.0 / n**0.5  # keeps the entries near 1: neither overflow nor slow subnormal numbers

    @tf.function
    def chain(x):
        for _ in range(repeats):
            x = tf.matmul(x, b) * scale
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


def graph_flops_by_op(function, *specs):
    """{op type: FLOPs} of one call of a tf.function, from the shapes in its traced graph.

    Counts the convolutions (forward, and the two gradients, each as many multiply-adds as
    the forward convolution they belong to) and the matmuls, 2 FLOPs per multiply-add;
    the element-wise ops are left out (they are a few percent of the time; see --profile).
    Of a conditional (spectral norm's power iteration), the branch with more FLOPs counts.
    """
    concrete = function.get_concrete_function(*specs)
    return count_graph(concrete.graph, concrete.outputs)


def live_ops(graph, outputs):
    """The ops that run: those the outputs or a stateful op (a variable update) depend on.

    TensorFlow prunes the rest before running a function; a tape's gradient code leaves
    some (the filter gradient of a layer whose input gradient alone was asked for).
    """
    stack = [tensor.op for tensor in outputs] + [op for op in graph.get_operations() if op.op_def.is_stateful]
    live = set()
    while stack:
        op = stack.pop()
        if op not in live:
            live.add(op)
            stack.extend(tensor.op for tensor in op.inputs)
            stack.extend(op.control_inputs)
    return live


def count_graph(graph, outputs):
    import math

    counts = {}
    live = live_ops(graph, outputs)
    for op in graph.get_operations():
        if op not in live:
            continue
        if op.type in ("If", "StatelessIf"):
            branches = [count_graph(branch.graph, branch.graph.outputs) for branch in (
                graph._get_function(op.get_attr(name).name) for name in ("then_branch", "else_branch"))]
            for key, value in max(branches, key=lambda branch: sum(branch.values())).items():
                counts[key] = counts.get(key, 0) + value
            continue
        if op.type in ("PartitionedCall", "StatefulPartitionedCall", "While", "StatelessWhile"):
            raise NotImplementedError(f"{op.type} in the step's graph: the ops inside it would not be counted")
        if op.type == "Conv2D":  # input, filter [kh, kw, in, out] -> output
            kernel, output = op.inputs[1].shape, op.outputs[0].shape
        elif op.type == "Conv2DBackpropInput":  # input sizes, filter, d(output)
            kernel, output = op.inputs[1].shape, op.inputs[2].shape
        elif op.type == "Conv2DBackpropFilter":  # input, filter sizes, d(output) -> d(filter)
            kernel, output = op.outputs[0].shape, op.inputs[2].shape
        elif op.type == "MatMul":
            a, b = op.inputs[0].shape, op.inputs[1].shape
            rows = a[1] if op.get_attr("transpose_a") else a[0]
            inner = a[0] if op.get_attr("transpose_a") else a[1]
            columns = b[0] if op.get_attr("transpose_b") else b[1]
            counts["MatMul"] = counts.get("MatMul", 0) + 2 * rows * inner * columns
            continue
        else:
            continue
        multiply_adds = math.prod(output) * kernel[0] * kernel[1] * kernel[2]  # every output x kh x kw x in
        counts[op.type] = counts.get(op.type, 0) + 2 * multiply_adds
    return counts


def op_family(op_type):
    """The graph op a kernel implements: _MklNativeFusedConv2D -> Conv2D, _MklMatMul -> MatMul."""
    import re

    name = re.sub(r"^_Mkl(Native)?", "", op_type)
    return re.sub(r"^_", "", name.replace("Fused", "").replace("WithBias", ""))


def traced_op_seconds(run, iterations, logdir):
    """Runs run() `iterations` times under the profiler; returns ({op family: seconds}, wall seconds)."""
    import glob

    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    tf.profiler.experimental.start(logdir)
    began = time.perf_counter()
    for _ in range(iterations):
        run()
    wall = time.perf_counter() - began
    tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    space.ParseFromString(pathlib.Path(sorted(glob.glob(f"{logdir}/plugins/profile/*/*.xplane.pb"))[-1]).read_bytes())
    seconds = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):  # the threads that run a graph's ops
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name  # "node/name:OpType"
                if ":" in name and "::" not in name:
                    seconds[op_family(name.rsplit(":", 1)[1])] += event.duration_ps * 1e-12
    return seconds, wall


def measure(variant, size, seconds, jit_compile, mixed_precision, profile_iterations=0, batch_size=None):
    """One row of the table, measured in this process; batch_size None: the variant's default."""
    import numpy as np
    import tensorflow as tf
    from common import cli, data, devices

    train_module = variants.module(variant, "train")
    batch_size = batch_size or cli.default_config(train_module)["batch_size"]
    config = cli.default_config(train_module, batch_size=batch_size, jit_compile=jit_compile,
                                mixed_precision=mixed_precision)
    n_critic = config["n_critic"]

    devices.set_precision(config["mixed_precision"])
    models = train_module.make_models(config, SIZES[size])
    rng = devices.make_rng(config["seed"])
    discriminator_step, generator_step = train_module.make_steps(*models, rng, config, tf.distribute.get_strategy())
    images = np.random.default_rng(0).integers(0, 256, (4096, *SIZES[size]), dtype=np.uint8)
    batches = data.make_batches(data.InMemory(images, None, "random"), batch_size, seed=0)

    began = time.perf_counter()
    for _ in range(200):
        next(batches)
    input_rate = 200 * batch_size / (time.perf_counter() - began)

    for _ in range(2):  # tracing and warm-up
        train_module.train_iteration(batches, discriminator_step, generator_step, n_critic)["loss/generator"].numpy()
    iterations, began = 0, time.perf_counter()
    while iterations < 3 or time.perf_counter() - began < seconds:
        train_module.train_iteration(batches, discriminator_step, generator_step, n_critic)["loss/generator"].numpy()
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

    # Count on steps traced without XLA (a compiled step's graph hides its ops; XLA runs the
    # same arithmetic) and on one device, where the replica's step is traced into the graph.
    specs = tf.TensorSpec([batch_size, *SIZES[size]], tf.float32), tf.TensorSpec([batch_size], tf.int32)
    counted = train_module.make_steps(*models, devices.make_rng(0), {**config, "jit_compile": False},
                               tf.distribute.get_strategy())
    by_op = collections.Counter()  # FLOPs per iteration, by op type
    for op, count in graph_flops_by_op(counted[0], *specs).items():
        by_op[op] += n_critic * count
    for op, count in graph_flops_by_op(counted[1]).items():
        by_op[op] += count
    flops = sum(by_op.values())
    profile = None
    if profile_iterations:
        import tempfile

        def run():
            train_module.train_iteration(batches, discriminator_step, generator_step, n_critic)["loss/generator"].numpy()

        with tempfile.TemporaryDirectory() as logdir:
            op_seconds, wall = traced_op_seconds(run, profile_iterations, logdir)
        profile = {"wall_seconds_per_iteration": wall / profile_iterations, "ops": [
            {"op": op, "seconds_per_iteration": total / profile_iterations,
             "gflop_per_iteration": by_op.get(op, 0) / 1e9}
            for op, total in op_seconds.most_common()]}
    return {
        "variant": variant, "size": size, "batch_size": batch_size, "n_critic": n_critic,
        "jit_compile": jit_compile, "mixed_precision": mixed_precision,
        "iterations_per_sec": rate, "images_per_sec": rate * n_critic * batch_size, "input_images_per_sec": input_rate,
        "discriminator_step_ms": 1e3 * d_seconds, "generator_step_ms": 1e3 * g_seconds,
        "gflop_per_iteration": flops / 1e9, "gflop_per_sec": flops * rate / 1e9, "profile": profile,
    }


def worker(args):
    import common  # noqa: F401  (quiets TensorFlow's start-up logging)

    # --seconds 0 (does the command work?) times one product, not the best of five chains of ten.
    timed = args.seconds > 0
    peak, overhead = matmul_peak(repeats=10 if timed else 1, trials=5 if timed else 1), dispatch_overhead()
    for size in args.sizes:
        row = measure(args.variants[0], size, args.seconds, args.jit_compile, args.mixed_precision,
                      args.profile_iterations if args.profile else 0, args.batch_size)
        row["peak_gflop_per_sec"] = peak / 1e9
        # n_critic + 1 step calls per iteration
        row["dispatch_share"] = overhead * (row["n_critic"] + 1) * row["iterations_per_sec"]
        row["dispatch_microseconds_per_call"] = overhead * 1e6
        if args.variants[0] == "wgan_gp" and args.textbook:  # the yardstick, in this process
            import baseline_wgan_gp

            iteration = baseline_wgan_gp.textbook_iteration(SIZES[size], row["batch_size"])
            row["textbook_iterations_per_sec"] = baseline_wgan_gp.iterations_per_second(iteration, args.seconds)
        print(json.dumps(row), flush=True)


def textbook_ratio(row):
    """it/s over the textbook WGAN-GP's, measured in the same process (wgan_gp rows only)."""
    textbook = row.get("textbook_iterations_per_sec")
    return f"{row['iterations_per_sec'] / textbook:.2f}" if textbook else "-"


def print_profile(row, top):
    """The top ops of a row's profile, as a Markdown table."""
    profile = row["profile"]
    total = sum(op["seconds_per_iteration"] for op in profile["ops"])
    print(f"\n{row['variant']} {row['size']}x{row['size']}, mixed_precision={row['mixed_precision']}: "
          f"{1e3 * profile['wall_seconds_per_iteration']:.0f} ms per iteration traced, op time {1e3 * total:.0f} ms "
          f"(op time / wall {total / profile['wall_seconds_per_iteration']:.2f}); matmul "
          f"{row['peak_gflop_per_sec']:.0f} GFLOP/s\n")
    print("| op | ms / iteration | share of op time | GFLOP / iteration | GFLOP/s | % of matmul |")
    print("| --- | --- | --- | --- | --- | --- |")
    for op in profile["ops"][:top]:
        seconds, gflop = op["seconds_per_iteration"], op["gflop_per_iteration"]
        rate = f"{gflop / seconds:.0f} | {100 * gflop / seconds / row['peak_gflop_per_sec']:.0f}" if gflop else "- | -"
        print(f"| {op['op']} | {1e3 * seconds:.1f} | {100 * seconds / total:.1f}% | {gflop:.2f} | {rate} |")


def value_range(values):
    """'209' for one value (or equal ones), '205-212' for several, rounded to whole numbers."""
    low, high = f"{min(values):.0f}", f"{max(values):.0f}"
    return low if low == high else f"{low}-{high}"


def main():
    parser = arguments.Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(variants.PAPERS), choices=variants.NAMES)
    parser.add_argument("--sizes", nargs="+", type=int, default=[28], choices=sorted(SIZES))
    parser.add_argument("--seconds", type=arguments.seconds, default=20.0, help="timed seconds per row, after warm-up")
    parser.add_argument("--batch_size", type=arguments.count, help="global batch (default: each variant's own)")
    parser.add_argument("--jit_compile", action="store_true", help="compile the steps with XLA")
    parser.add_argument("--mixed_precision", default="off", choices=["off", "float16", "bfloat16"])
    parser.add_argument("--profile", action="store_true", help="also trace iterations and print the top ops")
    parser.add_argument("--profile_iterations", type=arguments.count, default=2, help="iterations traced with --profile")
    parser.add_argument("--top", type=arguments.count, default=12, help="ops shown per profile")
    parser.add_argument("--no_textbook", dest="textbook", action="store_false",
                        help="skip the textbook WGAN-GP (baseline_wgan_gp.py) measured beside each wgan_gp row")
    parser.add_argument("--json", type=arguments.output_file, help="also write the rows to this file")
    parser.add_argument("--worker", action="store_true", help=arguments.SUPPRESS)
    args = parser.parse_args()
    arguments.children_end_with_this_process()  # a SIGTERM stops the children this script starts
    if args.worker:
        return worker(args)

    import platform

    rows = []
    print(f"{platform.machine()}, {os.cpu_count()} CPUs; jit_compile={args.jit_compile}, "
          f"mixed_precision={args.mixed_precision}")
    print(f"{'variant':<8} {'size':>4} {'batch':>5} {'n_crit':>6} {'it/s':>7} {'img/s':>7} {'input img/s':>11}"
          f" {'GFLOP/it':>8} {'GFLOP/s':>7} {'% peak':>6} {'x textbook':>10} {'% dispatch':>10} {'D ms':>7} {'G ms':>7}")
    for variant in args.variants:
        command = [sys.executable, __file__, "--worker", "--variants", variant, "--seconds", str(args.seconds),
                   "--sizes", *map(str, args.sizes), "--mixed_precision", args.mixed_precision]
        command += ["--jit_compile"] if args.jit_compile else []
        command += ["--batch_size", str(args.batch_size)] if args.batch_size else []
        command += ["--profile", "--profile_iterations", str(args.profile_iterations)] if args.profile else []
        command += [] if args.textbook else ["--no_textbook"]
        result = arguments.run_child(command, capture_output=True, text=True, cwd=REPO)
        if result.returncode != 0:
            sys.exit(f"{variant} failed:\n{result.stderr[-2000:]}")
        for line in result.stdout.splitlines():
            row = json.loads(line)
            rows.append(row)
            print(f"{row['variant']:<8} {row['size']:>4} {row['batch_size']:>5} {row['n_critic']:>6}"
                  f" {row['iterations_per_sec']:>7.3f} {row['images_per_sec']:>7.0f} {row['input_images_per_sec']:>11.0f}"
                  f" {row['gflop_per_iteration']:>8.1f} {row['gflop_per_sec']:>7.1f}"
                  f" {100 * row['gflop_per_sec'] / row['peak_gflop_per_sec']:>6.1f}"
                  f" {textbook_ratio(row):>10}"
                  f" {100 * row['dispatch_share']:>10.2f}"
                  f" {row['discriminator_step_ms']:>7.0f} {row['generator_step_ms']:>7.0f}", flush=True)
    for row in rows if args.profile else []:
        print_profile(row, args.top)
    if rows:
        peaks = [row["peak_gflop_per_sec"] for row in rows]
        calls = [row["dispatch_microseconds_per_call"] for row in rows]
        print(f"matmul peak, measured in each process: {value_range(peaks)} GFLOP/s (float32 1024x1024)")
        print(f"launching one step costs {value_range(calls)} us; '% dispatch' is that cost's share of "
              "an iteration's time")
    if args.json:
        arguments.write_text_whole(args.json, json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
