"""Run directories: flags every variant shares, config.json, logs, progress, checkpoints.

A run directory (--logdir) holds
  config.json        the resolved flags and the data source
  metrics.csv        every logged scalar, one row per logged step
  events.out.*       the same scalars and the sample grids, for TensorBoard
  samples/           a PNG grid of G(fixed noise) every --sample_every steps (with
                     --conditional, one row per class)
  checkpoints/       G, D, both optimizers and the step (the newest 3 are kept)
"""
import csv
import json
import os
import pathlib
import shutil
import signal
import sys
import tempfile
import time

from absl import app, flags, logging

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
# Flags that may change when a run is resumed: they say how long and how often,
# not what is trained.
RESUMABLE_KEYS = (
    "train_steps", "sample_every", "checkpoint_every", "log_every", "eval_every", "logdir", "data_dir",
    "strategy", "jit_compile",
)
PROGRESS_KEYS = ("loss/discriminator", "loss/generator", "wasserstein_estimate")
SAMPLE_GRID = 64  # images in each fixed-noise sample grid (8 x 8)


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""


_stop_requested = False


def _interrupt(signum, frame):
    """Ctrl-C or a SIGTERM (a job scheduler, `kill`) stops the run: a checkpoint first."""
    global _stop_requested
    _stop_requested = True  # Run.end_step raises again if this raise is swallowed
    raise KeyboardInterrupt


def run(main):
    """absl.app.run(main), but a UserError ends the program with one line instead of a traceback."""

    def guarded(argv):
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
        if not flags.FLAGS["verbosity"].present:
            logging.set_verbosity(logging.WARNING)  # hide TensorFlow's routine INFO lines
        try:
            return main(argv)
        except UserError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:  # during start-up; once training runs, Run saves and exits itself
            print("interrupted before training began; nothing to save", file=sys.stderr)
            sys.exit(130)

    app.run(guarded)


def define_flags():
    """Defines the plumbing flags that every train.py shares (data, run directory, cadence)."""
    flags.DEFINE_string(
        "dataset", "mnist",
        "mnist, fashion_mnist, cifar10, mnist_5k (bundled, offline) or folder:PATH (jpg/png tree)",
    )
    flags.DEFINE_string("data_dir", None, "Folder with a local copy of the dataset's files instead of downloading")
    flags.DEFINE_integer("image_size", 64, "Side in pixels for folder: datasets (64: the DCGAN paper's nets)")
    flags.DEFINE_string("logdir", None, "Run directory; default runs/VARIANT-DATASET. An existing run is resumed")
    flags.DEFINE_integer("seed", 0, "Seeds Python, NumPy and TensorFlow, the data order and the fixed sample noise")
    flags.DEFINE_integer("log_every", 50, "Generator iterations between logged scalars", lower_bound=1)
    flags.DEFINE_integer("sample_every", 500, "Generator iterations between sample grids", lower_bound=1)
    flags.DEFINE_integer("checkpoint_every", 1000, "Generator iterations between checkpoints", lower_bound=1)
    flags.DEFINE_integer(
        "eval_every", 0, "Generator iterations between sample-quality metrics (common/evaluate.py); 0: never",
        lower_bound=0,
    )
    flags.DEFINE_enum(
        "strategy", "default", ["default", "mirrored", "multi_worker"],
        "default: one device. mirrored: every GPU of this machine. multi_worker: several machines (TF_CONFIG)",
    )
    flags.DEFINE_bool("jit_compile", False, "Compile the steps with XLA (slower on CPU: see the README's benchmarks)")
    flags.DEFINE_bool(
        "conditional", False,
        "Class-conditional G and D (datasets with labels): G reads a one-hot label, D is a projection discriminator",
    )
    flags.DEFINE_enum(
        "mixed_precision", "off", ["off", "float16", "bfloat16"],
        "Compute in 16 bits with float32 variables; float16 adds a dynamic loss scale",
    )
    flags.register_validator("image_size", lambda size: size in (28, 32, 64), "--image_size must be 28, 32 or 64")


def config_from_flags(module, variant):
    """The resolved configuration: every flag the train.py module defines or adopts, as a dict."""
    values = {flag.name: flag.value for flag in flags.FLAGS.get_key_flags_for_module(module)}
    if flags.FLAGS["image_size"].present and not values["dataset"].startswith("folder:"):
        raise UserError(f"--image_size applies to folder: datasets; {values['dataset']} has a fixed size")
    if values.get("logdir") is None:
        dataset = values["dataset"]
        if dataset.startswith("folder:"):
            dataset = "folder-" + (pathlib.Path(dataset[len("folder:"):]).resolve().name or "root")
        values["logdir"] = os.path.join("runs", f"{variant}-{dataset}")
    return {"variant": variant, **dict(sorted(values.items()))}


def check_logdir(config):
    """Checks that --logdir is empty, new, or holds a run made with the same settings.

    Returns True when there is a run to resume. Raises UserError when the existing
    run's config differs in anything but how long and how often, or when the
    folder holds something else. Writes nothing.
    """
    logdir = pathlib.Path(config["logdir"])
    config_path = logdir / CONFIG_FILE
    resuming = config_path.is_file()
    if resuming:
        try:
            saved = json.loads(config_path.read_text())
        except (OSError, ValueError) as error:
            raise UserError(f"{config_path} is unreadable ({error}); use another --logdir") from None
        # A flag added after the run was made counts as having its default value there.
        saved = {**{key: flags.FLAGS[key].default for key in config if key not in saved and key in flags.FLAGS}, **saved}
        changed = sorted(
            key for key in set(saved) | set(config)
            if key not in RESUMABLE_KEYS and saved.get(key) != config.get(key)
        )
        if changed:
            details = ", ".join(f"{key}: {saved.get(key)!r} -> {config.get(key)!r}" for key in changed)
            raise UserError(
                f"{logdir} holds a run with other settings ({details}); "
                "resume it with its own flags or choose a new --logdir"
            )
    elif logdir.exists() and any(logdir.iterdir()):
        raise UserError(f"{logdir} is not empty and holds no {CONFIG_FILE}; choose a new --logdir")
    return resuming


def write_json(path, value):
    """Writes JSON so that the file is replaced whole or not at all."""
    path = pathlib.Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(value, indent=2, sort_keys=False) + "\n")
    os.replace(partial, path)


def read_config(logdir):
    path = pathlib.Path(logdir) / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{logdir} is not a run directory (no {CONFIG_FILE})")
    return json.loads(path.read_text())


def make_strategy(name):
    """The tf.distribute strategy for --strategy; create it before any other TensorFlow work."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise UserError("--strategy=multi_worker needs TF_CONFIG (the cluster and this worker's index)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy):
    """True for the one process that writes logs, samples and checkpoints (worker 0)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver is None or resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0
    )


def replica_batch_size(config, strategy):
    """--batch_size is global: split evenly over the replicas."""
    replicas = strategy.num_replicas_in_sync
    if config["batch_size"] % replicas:
        raise UserError(f"--batch_size={config['batch_size']} does not split over {replicas} replicas")
    return config["batch_size"] // replicas


def latent_dim(generator):
    """The size of z, for a generator that takes noise or [noise, labels]."""
    return generator.inputs[0].shape[-1]


def distribute(strategy, step, jit_compile=False):
    """A tf.function that runs `step` on every replica and averages the metrics it returns.

    `step` returns a dict of scalars. With one device this is just tf.function(step).
    """
    import tensorflow as tf

    replica_step = tf.function(step, jit_compile=True) if jit_compile else step

    @tf.function
    def distributed_step(*args):
        metrics = strategy.run(replica_step, args=args)
        return {key: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None) for key, value in metrics.items()}

    return distributed_step


def set_precision(config):
    """Keras' global dtype policy for --mixed_precision; call it before building the models."""
    import keras

    policy = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}[config["mixed_precision"]]
    keras.mixed_precision.set_global_policy(policy)


def for_precision(optimizer, config):
    """The optimizer, with a dynamic loss scale under float16 (whose small gradients would underflow).

    The steps differentiate optimizer.scale_loss(loss); apply_gradients divides the
    scale out again and skips a step whose gradients overflowed.
    """
    import keras

    if config["mixed_precision"] == "float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def seed_everything(seed):
    import keras

    keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow


def make_checkpoint(logdir, **objects):
    """A tf.train.Checkpoint of `objects` and a manager that keeps the newest 3 in logdir/checkpoints.

    TensorFlow writes a checkpoint's data files first and then replaces the small
    `checkpoint` index file in one rename, so a save that is killed half-way leaves
    the previous checkpoint as the latest one.
    """
    import tensorflow as tf

    checkpoint = tf.train.Checkpoint(**objects)
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(logdir, "checkpoints"), max_to_keep=3)
    return checkpoint, manager


class ScalarLog:
    """Writes the same scalars to TensorBoard and to metrics.csv."""

    def __init__(self, logdir, resume_step):
        import tensorflow as tf

        self._tf = tf
        self._writer = tf.summary.create_file_writer(str(logdir))
        self._csv_path = pathlib.Path(logdir) / METRICS_FILE
        self._fields = None
        if self._csv_path.is_file():
            self._drop_rows_after(resume_step)

    def _drop_rows_after(self, step):
        # A run killed between two checkpoints logged steps that it will now redo.
        with open(self._csv_path, newline="") as f:
            self._fields = csv.DictReader(f).fieldnames
        self._rewrite(lambda row: int(row["step"]) <= step)

    def _rewrite(self, keep):
        """Rewrites metrics.csv with the current columns, keeping the rows for which keep(row)."""
        with open(self._csv_path, newline="") as f:
            rows = [row for row in csv.DictReader(f) if keep(row)]
        partial = self._csv_path.with_name(self._csv_path.name + ".partial")
        with open(partial, "w", newline="") as f:
            writer = csv.DictWriter(f, self._fields)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(partial, self._csv_path)

    def scalars(self, step, values):
        values = {key: float(value) for key, value in values.items()}
        with self._writer.as_default(step=step):
            for key, value in values.items():
                self._tf.summary.scalar(key, value)
        if self._fields is None:
            self._fields = ["step", "wall_time"] + sorted(values)
            with open(self._csv_path, "w", newline="") as f:
                csv.DictWriter(f, self._fields).writeheader()
        elif not set(values) <= set(self._fields):  # new columns (the first evaluation): widen the file
            self._fields = self._fields + sorted(set(values) - set(self._fields))
            self._rewrite(lambda row: True)
        with open(self._csv_path, "a", newline="") as f:
            row = {"step": step, "wall_time": f"{time.time():.3f}", **values}
            csv.DictWriter(f, self._fields, extrasaction="ignore").writerow(row)

    def image(self, step, tag, image_uint8):
        with self._writer.as_default(step=step):
            self._tf.summary.image(tag, image_uint8[None], max_outputs=1)

    def flush(self):
        self._writer.flush()


class Progress:
    """A one-line progress bar on a terminal; a plain log line every `every` steps otherwise."""

    def __init__(self, start, total, every, stream=sys.stdout):
        self.start, self.total, self.every, self.stream = start, total, every, stream
        self.interactive = stream.isatty()
        self._began = self._shown = time.perf_counter()

    def rate(self, step):
        elapsed = time.perf_counter() - self._began
        return (step - self.start) / elapsed if elapsed > 0 else 0.0

    def update(self, step, values):
        now = time.perf_counter()
        shown = {key: value for key, value in values.items() if key in PROGRESS_KEYS}
        numbers = "  ".join(f"{key} {float(value):.4g}" for key, value in shown.items())
        if self.interactive and (now - self._shown > 0.25 or step == self.total):
            done = int(30 * step / self.total)
            bar = "#" * done + "." * (30 - done)
            self.stream.write(f"\r[{bar}] {step}/{self.total}  {self.rate(step):.2f} it/s  {numbers}\x1b[K")
            self.stream.flush()
            self._shown = now
        elif not self.interactive and (step % self.every == 0 or step == self.total):
            self.stream.write(f"step {step}/{self.total}  {self.rate(step):.2f} it/s  {numbers}\n")
            self.stream.flush()

    def message(self, text):
        """Prints a line without garbling the progress bar."""
        self.stream.write(("\n" if self.interactive else "") + text + "\n")
        self.stream.flush()


class Run:
    """Everything a training run writes, on its schedule; the training loop stays in train.py.

        run = runs.Run(config, generator, discriminator, generator_optimizer,
                       discriminator_optimizer, strategy)
        with run:
            for step in run.steps():
                metrics = ...one generator iteration...
                run.end_step(step, metrics)

    Opening the run restores the latest checkpoint in --logdir, if any. Leaving it
    with Ctrl-C saves a checkpoint first, so the same command resumes the run.
    """

    def __init__(self, config, generator, discriminator, generator_optimizer, discriminator_optimizer, strategy):
        import numpy as np
        import tensorflow as tf

        self.config = config
        self.logdir = pathlib.Path(config["logdir"])
        # Only the chief writes logs, samples and config. Every worker takes part in
        # saving a checkpoint (a collective operation); the others write to a scratch folder.
        self.chief = is_chief(strategy)
        resuming = check_logdir(config) if self.chief else (self.logdir / CONFIG_FILE).is_file()
        self.generator = generator
        with strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._scratch = None if self.chief else tempfile.mkdtemp(prefix="gan-worker-")
        self.checkpoint, self.manager = make_checkpoint(
            self._scratch or self.logdir,
            step=self.step,
            generator=generator,
            discriminator=discriminator,
            generator_optimizer=generator_optimizer,
            discriminator_optimizer=discriminator_optimizer,
        )
        latest = tf.train.latest_checkpoint(str(self.logdir / "checkpoints"))
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        self.start = int(self.step.numpy())
        # The same noise every time, so that the grids show one set of samples evolving.
        self.num_classes = config.get("num_classes", 0)
        noise = np.random.default_rng(config["seed"]).standard_normal((SAMPLE_GRID, latent_dim(generator)))
        self.fixed_inputs = noise.astype(np.float32)
        if self.num_classes:  # one row per class, the same 8 noise vectors in every row
            classes = np.arange(self.num_classes, dtype=np.int32)
            self.fixed_inputs = [np.tile(self.fixed_inputs[:8], (self.num_classes, 1)), np.repeat(classes, 8)]

        self.log = self.evaluator = None
        self.progress = Progress(self.start, config["train_steps"], config["log_every"])
        self._tick = (time.perf_counter(), self.start)
        if not self.chief:
            return
        print(f"{config['variant']} on {config['data_source']}, images {tuple(config['image_shape'])}")
        print(
            f"generator: {generator.count_params():,} parameters; "
            f"discriminator: {discriminator.count_params():,} parameters; "
            f"{strategy.num_replicas_in_sync} replica(s)"
        )
        state = f"resuming at generator iteration {self.start}" if resuming else "new run"
        print(f"run directory: {self.logdir} ({state})")
        if self.start < config["train_steps"]:  # a finished run is left exactly as it was
            self.logdir.mkdir(parents=True, exist_ok=True)
            write_json(self.logdir / CONFIG_FILE, config)
            self.log = ScalarLog(self.logdir, self.start)
        if config["eval_every"] and self.log is not None:
            from common import evaluate

            self.evaluator = evaluate.Evaluator(
                config["dataset"], config["data_dir"], seed=config["seed"], image_size=config["image_size"]
            )
            print(f"evaluating every {config['eval_every']} iterations: {self.evaluator.describe()}")

    def steps(self):
        """The generator iterations still to run: start + 1 ... train_steps."""
        if self.start >= self.config["train_steps"]:
            print(f"already trained for {self.start} generator iterations; raise --train_steps to go on")
        return range(self.start + 1, self.config["train_steps"] + 1)

    def end_step(self, step, metrics):
        """Records that generator iteration `step` is done; logs, samples and checkpoints on schedule."""
        if _stop_requested:
            # A signal's KeyboardInterrupt can land where it is swallowed (a finalizer run
            # while TensorFlow traces a step); stop here instead.
            raise KeyboardInterrupt
        self.step.assign(step)
        last = step == self.config["train_steps"]
        if step % self.config["checkpoint_every"] == 0 or last:
            self.manager.save(checkpoint_number=step)  # on every worker: saving is collective
        if not self.chief:
            return
        values = {}
        if step % self.config["log_every"] == 0 or last:
            values = {key: float(value) for key, value in metrics.items()}
            now = time.perf_counter()
            values["perf/steps_per_sec"] = (step - self._tick[1]) / (now - self._tick[0])
            self._tick = (now, step)
        if self.evaluator and (step % self.config["eval_every"] == 0 or last):
            values.update(self.evaluate(step))
        if values:
            self.log.scalars(step, values)
        self.progress.update(step, metrics)
        if step % self.config["sample_every"] == 0 or last:
            self.save_samples(step)
        if step % self.config["checkpoint_every"] == 0 or last:
            self.log.flush()

    def save_samples(self, step):
        from common import images

        samples = images.to_uint8(self.generator(self.fixed_inputs, training=False))
        sample_grid = images.grid(samples, columns=8)
        images.save_png(sample_grid, self.logdir / "samples" / f"step_{step:07d}.png")
        self.log.image(step, "samples", sample_grid)

    def evaluate(self, step):
        """Sample-quality metrics of the generator now, as eval/* scalars."""
        from common import generate

        began = time.perf_counter()
        samples, labels = generate.generate(
            self.generator, self.evaluator.num_samples, seed=self.config["seed"] + step, num_classes=self.num_classes
        )
        results = self.evaluator.score(samples, labels)
        self._tick = (self._tick[0] + time.perf_counter() - began, self._tick[1])  # keep it out of steps/s
        self.progress.message(f"step {step}: " + "  ".join(f"{key} {value:.4g}" for key, value in results.items()))
        return {f"eval/{key}": value for key, value in results.items()}

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
        if self.log is None:
            return False
        self.log.flush()
        if kind is KeyboardInterrupt:
            step = int(self.step.numpy())
            self.manager.save(checkpoint_number=step)
            self.progress.message(f"interrupted: saved a checkpoint at generator iteration {step}; "
                                  "run the same command to resume")
            sys.exit(130)
        if kind is None and self.start < self.config["train_steps"]:
            self.progress.message(f"done: {self.config['train_steps']} generator iterations in {self.logdir}")
        return False
