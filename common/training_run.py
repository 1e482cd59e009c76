"""A training run's lifecycle: restore, then log, sample, evaluate and checkpoint on schedule.

The training loop itself stays in each train.py:

    with training_run.TrainingRun(config, *models, strategy) as run:
        for step in run.steps():
            metrics = train_iteration(...)
            run.end_step(step, metrics)

Opening a TrainingRun restores the latest checkpoint in --logdir, if any. Leaving it
with Ctrl-C or SIGTERM saves a checkpoint first, so the same command resumes the run;
leaving it at the end of training with --export writes RUN/export (common/export.py).
"""
import math
import pathlib
import shutil
import sys
import tempfile
import time

from common import cli, devices, export, images, logs, quality, rundir, sampling

SAMPLE_GRID = 64  # images in each fixed-noise sample grid (8 x 8)


class NonFiniteError(cli.UserError):
    """A loss, a gradient norm or a weight became NaN or infinite: one line, no checkpoint."""


class TrainingRun:
    """Everything a training run writes, on its schedule (see the module docstring)."""

    def __init__(self, config, generator, discriminator, generator_optimizer, discriminator_optimizer, strategy):
        import numpy as np
        import tensorflow as tf

        self.config = config
        self.logdir = pathlib.Path(config["logdir"])
        # Only the chief writes logs, samples and config. Every worker takes part in
        # saving a checkpoint (a collective operation); the others write to a scratch folder.
        self.chief = devices.is_chief(strategy)
        resuming = rundir.check_logdir(config) if self.chief else (self.logdir / rundir.CONFIG_FILE).is_file()
        self.generator = generator
        with strategy.scope():
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._scratch = None if self.chief else tempfile.mkdtemp(prefix="gan-worker-")
        self.checkpoint_variables = [
            *generator.variables, *discriminator.variables,
            *generator_optimizer.variables, *discriminator_optimizer.variables,
        ]
        self.checkpoint, self.manager = rundir.make_checkpoint(
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
        noise = np.random.default_rng(config["seed"]).standard_normal((SAMPLE_GRID, sampling.latent_dim(generator)))
        self.fixed_inputs = noise.astype(np.float32)
        if self.num_classes:  # one row per class, the same 8 noise vectors in every row
            classes = np.arange(self.num_classes, dtype=np.int32)
            self.fixed_inputs = [np.tile(self.fixed_inputs[:8], (self.num_classes, 1)), np.repeat(classes, 8)]

        self.log = self.evaluator = None
        if self.chief and config["eval_every"] and self.start < config["train_steps"]:
            self.evaluator = self.make_evaluator(strategy)  # before anything is written
        self.progress = logs.Progress(self.start, config["train_steps"], config["log_every"])
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
            rundir.write_json(self.logdir / rundir.CONFIG_FILE, config)
            self.log = logs.ScalarLog(self.logdir, self.start)
        if self.evaluator:
            print(f"evaluating every {config['eval_every']} iterations: {self.evaluator.describe()}")
        self._tick = (time.perf_counter(), self.start)  # the clock starts after set-up

    def make_evaluator(self, strategy):
        """The sample-quality evaluator, scoring against the data the run trains on.

        Built in float32 whatever --mixed_precision says, so that the numbers (and a
        cached classifier) do not depend on it. Building it may train the classifier,
        which seeds TensorFlow; the run's own seed is set again afterwards, so that
        --eval_every changes no training number. An evaluator that cannot start (the
        InceptionV3 weights offline) stops the run before anything is written.
        """
        config = self.config
        with devices.float32_policy():
            evaluator = quality.Evaluator(
                rundir.data_identity(config), config["data_dir"], seed=config["seed"],
                inception_weights=config.get("inception_weights", "imagenet"), image_size=config["image_size"],
            )
        devices.seed_everything(config["seed"], strategy)
        return evaluator

    def steps(self):
        """The generator iterations still to run: start + 1 ... train_steps."""
        if self.start >= self.config["train_steps"]:
            print(f"already trained for {self.start} generator iterations; raise --train_steps to go on")
        return range(self.start + 1, self.config["train_steps"] + 1)

    def end_step(self, step, metrics):
        """Records that generator iteration `step` is done; logs, samples and checkpoints on schedule."""
        if cli.stop_requested():
            # A signal's KeyboardInterrupt can land where it is swallowed (a finalizer run
            # while TensorFlow traces a step); stop here instead.
            raise KeyboardInterrupt
        self.step.assign(step)
        last = step == self.config["train_steps"]
        logging = step % self.config["log_every"] == 0 or last
        saving = step % self.config["checkpoint_every"] == 0 or last
        if logging or saving:  # the numbers are read from the device here only, never per update
            metrics = {key: float(value) for key, value in metrics.items()}
            self.check_finite(step, metrics, weights=saving)
        if saving:
            self.manager.save(checkpoint_number=step)  # on every worker: saving is collective
        if not self.chief:
            return
        values = {}
        if logging:
            values = dict(metrics)
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

    def check_finite(self, step, metrics, weights):
        """Stops the run if a logged number (or, before a save, a weight) is NaN or infinite.

        Nothing non-finite is logged or saved, so the newest checkpoint on disk stays
        the last good one; rerunning the command resumes from it.
        """
        for key, value in metrics.items():  # already read from the device: Python floats
            if not math.isfinite(value):
                raise NonFiniteError(self.blow_up_message(step, f"{key} is {value}"))
        if weights and not self.weights_finite():
            raise NonFiniteError(self.blow_up_message(step, "a weight is not finite"))

    def weights_finite(self):
        import tensorflow as tf

        variables = self.checkpoint_variables
        floats = [v for v in variables if "float" in str(v.dtype)]  # not the step counters
        return bool(tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in floats]))

    def blow_up_message(self, step, what):
        latest = self.manager.latest_checkpoint
        kept = (f"the latest checkpoint, {pathlib.Path(latest).name}, holds finite weights: run the same "
                "command to resume from it, or start a new --logdir with a lower --learning_rate"
                if latest else "no checkpoint was saved before it; lower --learning_rate and start again")
        return f"stopped at generator iteration {step}: {what} (nothing saved); {kept}"

    def save_samples(self, step):
        samples = images.to_uint8(self.generator(self.fixed_inputs, training=False))
        sample_grid = images.grid(samples, columns=8)
        images.save_png(sample_grid, self.logdir / "samples" / f"step_{step:07d}.png")
        self.log.image(step, "samples", sample_grid)

    def evaluate(self, step):
        """Sample-quality metrics of the generator now, as eval/* scalars."""
        began = time.perf_counter()
        samples, labels = sampling.generate(
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
        if self.log is None:  # a worker, or a finished run: --export still exports what the run has
            if kind is None and self.chief and self.config.get("export"):
                export.export(self.logdir)
            return False
        self.log.flush()
        if kind is KeyboardInterrupt:
            step = int(self.step.numpy())
            if not self.weights_finite():  # a blow-up since the last check: keep the good checkpoint
                self.progress.message(f"interrupted at generator iteration {step} with non-finite weights; "
                                      "nothing saved, the latest checkpoint is the last good one")
                sys.exit(130)
            self.manager.save(checkpoint_number=step)
            self.progress.message(f"interrupted: saved a checkpoint at generator iteration {step}; "
                                  "run the same command to resume")
            sys.exit(130)
        if kind is None and self.start < self.config["train_steps"]:
            self.progress.message(f"done: {self.config['train_steps']} generator iterations in {self.logdir}")
        if kind is None and self.config.get("export"):
            export.export(self.logdir)
        return False
