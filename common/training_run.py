"""A training run's lifecycle: restore, then log, sample, evaluate and checkpoint on schedule.

The training loop itself stays in each train.py:

    with training_run.TrainingRun(config, *models, strategy, variant=variant, facts=facts,
                                  real_batches=real_batches) as run:
        for iteration in run.iterations():
            metrics = train_iteration(real_batches, ...)
            run.end_iteration(iteration, metrics)

Opening a TrainingRun restores the latest checkpoint in --logdir, if any, with the
position of the real batches in their order (common/data.py), so that the same command
resumes the run where it stopped, data included. A Ctrl-C or SIGTERM stops the run when
the iteration it is in is done and saves a checkpoint of that iteration's end; a second
one stops at once and saves nothing. Leaving it at the end of training with --export
writes RUN/export (common/export.py).
"""
import json
import math
import os
import pathlib
import shutil
import sys
import tempfile
import time
from typing import NamedTuple

import arguments
from common import cli, devices, export, images, logs, quality, rundir, sampling

SAMPLE_GRID = 64  # images in each fixed-noise sample grid (8 x 8)
# Generator iterations, counted from the start of this session of a run (a fresh run's
# 1, 10, ...), that get a sample grid whatever --sample_every says: a first picture within
# a minute of starting on a CPU, then fewer as the pictures change less.
EARLY_SAMPLES = (1, 10, 50, 100, 200, 500)
LATEST_SAMPLES = "latest.png"  # in samples/: a copy of the newest grid, for an image viewer left open on it
# Logged readings in a row with a NaN or infinite number, the weights finite and no fall of the
# float16 loss scale to explain them, that stop a run: one is a skipped update, three are not.
NON_FINITE_READINGS = 3
BLOW_UPS_FILE = "blow_ups.json"  # in the run directory: each blow-up and the checkpoint it leaves to resume from


class NonFiniteError(cli.UserError):
    """A loss, a gradient norm or a weight became NaN or infinite: one line, no checkpoint."""


class RunDirectoryLost(cli.UserError):
    """The run directory was deleted or replaced while the run trained: one line, nothing written."""


class Due(NamedTuple):
    """What the end of one generator iteration does (TrainingRun.due)."""

    log: bool  # read the metrics, log the scalars
    checkpoint: bool  # check the weights are finite, save a checkpoint, flush the log
    samples: bool  # write the fixed-noise sample grid
    evaluate: bool  # score the samples' quality (with --eval_every)


def fixed_inputs(seed, generator, num_classes):
    """The sample grids' generator inputs, the same at every grid so that they show one set
    of samples evolving: [noise float32 [64, latent], labels int32 [64]]. Without classes,
    64 noise vectors from numpy's generator seeded by --seed (labels all 0, unread); with
    classes, one row of the same 8 noise vectors per class."""
    import numpy as np

    noise = np.random.default_rng(seed).standard_normal((SAMPLE_GRID, sampling.latent_dim(generator)))
    inputs = [noise.astype(np.float32), np.zeros(SAMPLE_GRID, np.int32)]  # labels: unread
    if num_classes:  # one row per class, the same 8 noise vectors in every row
        classes = np.arange(num_classes, dtype=np.int32)
        inputs = [np.tile(inputs[0][:8], (num_classes, 1)), np.repeat(classes, 8)]
    return inputs


class TrainingRun:
    """Everything a training run writes, on its schedule (see the module docstring)."""

    def __init__(self, config, generator, discriminator, generator_optimizer, discriminator_optimizer, strategy, *,
                 variant, facts, real_batches=None, random_generator=None):
        """config: the flags' values. facts: the common.data.RunFacts the run learned at start;
        config.json records both. variant: the run's entry in the registry of variants
        (variants.py), handed down by its train.py, since common/ imports no variant: its
        flag_defaults() and retired_flags for the resume check, its make_generator for --export.
        real_batches: the run's common.data.Batches, whose position the checkpoint keeps, so
        that a resumed run's data goes on where it stopped; random_generator: a
        tf.random.Generator the steps draw from, kept in the checkpoint too (None: neither is
        kept)."""
        self.config, self.facts = config, facts
        self.logdir = pathlib.Path(config["logdir"])
        # Only the chief writes logs, samples and config. Every worker takes part in
        # saving a checkpoint (a collective operation); the others write to a scratch folder.
        self.chief = devices.is_chief(strategy)
        # One process trains a run at a time: the chief holds the directory until the run ends
        # (a new run's from when claim_new_run makes it).
        self._lock = rundir.RunLock(self.logdir) if self.chief else None
        try:
            self._set_up(generator, discriminator, generator_optimizer, discriminator_optimizer, strategy,
                         variant, real_batches, random_generator)
        except BaseException:
            self._release_lock()
            raise

    def _set_up(self, generator, discriminator, generator_optimizer, discriminator_optimizer, strategy, variant,
                real_batches, random_generator):
        """Restores the run, or starts it, and says so (the phases below, in order)."""
        config, facts = self.config, self.facts
        self.make_generator = variant.make_generator  # for --export
        self.generator = generator
        self.optimizers = (generator_optimizer, discriminator_optimizer)
        self._non_finite_readings, self._loss_scales = 0, []  # check_finite's memory of the last readings
        self.evaluator, self.evaluations_scored = None, None  # (record() reads them)
        resuming = self.check_resume(variant)
        if self.chief and config.get("export"):  # before any training: a folder --export must not replace
            export.replaceable(self.logdir / "export", given=False)
        self.open_checkpoint(generator, discriminator, strategy, real_batches, random_generator)
        self.num_classes = facts.num_classes
        self.fixed_inputs = fixed_inputs(config["seed"], generator, self.num_classes)
        self.log = None
        if self.chief and resuming:
            self.evaluations_scored = self.recorded_evaluation_count()
        if self.chief and config["eval_every"] and self.start < config["train_steps"]:
            self.evaluator = self.make_evaluator(strategy)  # before anything is written
            self.check_evaluation_count(self.evaluator.num_samples)
            self.evaluations_scored = self.evaluator.num_samples
        self.progress = logs.Progress(self.start, config["train_steps"], config["log_every"])
        if not self.chief:
            return
        if self.start < config["train_steps"] and not self._lock.held:
            self.claim_new_run()
        self.print_banner(generator, discriminator, strategy, resuming)
        if self.start < config["train_steps"]:  # a finished run is left exactly as it was
            self.log = self.open_logs()
        if self.evaluator:
            print(f"evaluating every {config['eval_every']} iterations: {self.evaluator.describe()}")
            note = self.evaluator.shortfall()  # --eval_samples over what the data holds
            if note:
                print(note)
        self._tick = (time.perf_counter(), self.start)  # the clock starts after set-up

    def record(self):
        """What config.json holds: the flags, then the run's facts (with the images each
        evaluation scores, once the run has evaluated or will)."""
        scored = {"evaluations_scored": self.evaluations_scored} if self.evaluations_scored else {}
        return {**self.config, **self.facts.recorded(), **scored}

    def recorded_evaluation_count(self):
        """config.json's evaluations_scored: a count of images, or None (not recorded).
        Raises UserError for anything else (a hand edit, say)."""
        count = (rundir.recorded_run(self.config) or {}).get("evaluations_scored")
        if count is None or (type(count) is int and count > 0):
            return count
        raise cli.UserError(
            f"{self.logdir / rundir.CONFIG_FILE}: evaluations_scored is {count!r}, not a number of images; write "
            "back the number its evaluations scored (the count --eval_samples gave), or remove the key")

    def check_evaluation_count(self, scored):
        """Raises UserError when the run's logged evaluations scored another number of images
        than `scored` (--eval_samples, capped at the real training images): FD and KID depend
        on that number, so one run's curve keeps one. A run recorded before the count was
        (no evaluations_scored in its config.json) is not checked."""
        before = self.evaluations_scored
        if before is None or before == scored or not logs.has_evaluations(self.logdir):
            return
        raise cli.UserError(
            f"{self.logdir}'s evaluations scored {before} images each, and --eval_samples="
            f"{self.config['eval_samples']} would score {scored}: FD and KID of other counts do not compare on one "
            f"curve; resume with --eval_samples={before}, or choose a new --logdir")

    def check_resume(self, variant):
        """Whether the run directory holds a run to resume; the chief also checks that its
        config.json agrees with these flags (rundir.check_logdir, which raises UserError)."""
        if self.chief:
            return rundir.check_logdir(self.record(), variant.flag_defaults(), variant.retired_flags)
        return (self.logdir / rundir.CONFIG_FILE).is_file()

    def open_checkpoint(self, generator, discriminator, strategy, real_batches, random_generator):
        """Sets up the checkpoint (generator iteration counter, models, optimizers, and the data position and
        random generator when given), restores the latest one in --logdir, and sets self.start."""
        import tensorflow as tf

        generator_optimizer, discriminator_optimizer = self.optimizers
        with strategy.scope():
            self.iterations_done = tf.Variable(0, dtype=tf.int64, trainable=False)  # generator iterations
        self._scratch = None if self.chief else tempfile.mkdtemp(prefix="gan-worker-")
        self.checkpoint_variables = [
            *generator.variables, *discriminator.variables,
            *generator_optimizer.variables, *discriminator_optimizer.variables,
        ]
        models = dict(step=self.iterations_done,  # "step": the name checkpoints have kept it under
                      generator=generator, discriminator=discriminator,
                      generator_optimizer=generator_optimizer, discriminator_optimizer=discriminator_optimizer)
        extras = {"data_position": None if real_batches is None else real_batches.position,
                  "random_generator": random_generator}
        extras = {name: value for name, value in extras.items() if value is not None}
        self.checkpoint = tf.train.Checkpoint(**models, **extras)
        cli.keep_until_exit(real_batches)  # its tf.data threads then end with the process, not with train()
        latest = rundir.latest_checkpoint(self.logdir)
        if self.chief and not latest:
            self.check_no_checkpoint_lost()
        if latest:
            try:
                self.restore(latest, models, extras)
            except cli.UserError:  # unreadable: damaged, or gone with a folder deleted meanwhile
                self.raise_if_directory_lost()
                raise
            lost = rundir.incomplete_checkpoints(self.logdir)
            if lost and self.chief:  # (said once it is sure to be used: a refused start says one line)
                print(f"warning: {rundir.incomplete_note(lost)}: resuming from {pathlib.Path(latest).name}, the "
                      "newest whole checkpoint", file=sys.stderr)
        # Only now that the run can go on: the checkpoint folder put in order (rundir.checkpoint_manager).
        self.manager = rundir.checkpoint_manager(self._scratch or self.logdir, self.checkpoint)
        self.start = int(self.iterations_done.numpy())
        if random_generator is not None:
            self.reseed_after_blow_up(random_generator)
        self._loss_scales = self.loss_scales()

    def check_no_checkpoint_lost(self):
        """Refuses to start a run again from iteration 0 where its checkpoints are gone (deleted by
        hand, say, or left incomplete) and its log goes past the first of them, which would
        rewrite its metrics.csv. For a run without a whole checkpoint.

        A run saves its first checkpoint (--checkpoint_every, or --train_steps if sooner) before
        it logs that iteration; a run stopped before it (killed, or a blow-up) starts again.
        """
        lost = rundir.incomplete_checkpoints(self.logdir)
        path = self.logdir / rundir.CONFIG_FILE
        logged = logs.last_logged_step(self.logdir)
        if logged is None or not path.is_file():
            return
        saved = rundir.parse_config(path)
        first = min(saved.get("checkpoint_every", 1), saved.get("train_steps", 1))
        if logged >= first:
            why = (f"{rundir.incomplete_note(lost)}, and no whole one is there" if lost
                   else f"{self.logdir / 'checkpoints'} is empty or gone")
            raise cli.UserError(
                f"{self.logdir} has logs up to generator iteration {logged} but no checkpoint to resume from "
                f"({why}); to train it again from iteration 0, move "
                "or delete that run directory (its metrics.csv would be rewritten), or choose a new --logdir")

    def print_banner(self, generator, discriminator, strategy, resuming):
        """The start-up lines: variant and data, parameter counts, run directory."""
        config = self.config
        print(f"{config['variant']} on {self.facts.data_source}, images {tuple(self.facts.image_shape)}")
        print(
            f"generator: {generator.count_params():,} parameters; "
            f"discriminator: {discriminator.count_params():,} parameters; "
            f"{strategy.num_replicas_in_sync} replica(s) {devices.describe_devices(strategy)}"
        )
        devices.warn_if_gpu_unused()
        state = f"resuming at generator iteration {self.start}" if resuming else "new run"
        print(f"run directory: {self.logdir} ({state})")

    def claim_new_run(self):
        """Makes a new run's directory and holds it (rundir.RunLock). Another process may have
        made a run there since this one found none: that run is left alone (UserError)."""
        self.logdir.mkdir(parents=True, exist_ok=True)
        self._lock = rundir.RunLock(self.logdir)
        if (self.logdir / rundir.CONFIG_FILE).exists() or rundir.latest_checkpoint(self.logdir):
            raise cli.UserError(f"another process started a run in {self.logdir} while this one was starting; run this "
                                "command again to resume it, or choose another --logdir")

    def open_logs(self):
        """Writes config.json and opens the scalar log (the chief, when there is training to do)."""
        self.raise_if_directory_lost()  # (a resumed run's set-up may take minutes)
        self.logdir.mkdir(parents=True, exist_ok=True)
        rundir.write_json(self.logdir / rundir.CONFIG_FILE, self.record())
        return logs.ScalarLog(self.logdir, self.start)

    def restore(self, path, models, extras):
        """Restores the checkpoint at `path`; one saved before the data position or the random
        generator were kept restores the rest, and says what starts afresh."""
        import tensorflow as tf

        try:
            saved = {name.split("/")[0] for name, _ in tf.train.list_variables(path)}
        except (tf.errors.OpError, IndexError, ValueError) as error:
            raise rundir.unreadable_checkpoint(path, error) from None
        missing = [name for name in extras if name not in saved]
        if missing:  # an older run's checkpoint: what it lacks starts afresh
            rundir.restore_checkpoint(tf.train.Checkpoint(**models), path).assert_existing_objects_matched()
            if self.chief:
                print(f"{pathlib.Path(path).name} was saved without {' and '.join(missing)}: "
                      "those start afresh (the data at the start of its order)")
        else:
            rundir.restore_checkpoint(self.checkpoint, path).assert_existing_objects_matched()

    def reseed_after_blow_up(self, random_generator):
        """Moves the steps' random numbers to a stream of their own when the run resumes from
        the checkpoint a blow-up left (blow_ups.json).

        That checkpoint holds the generator's state as it was before the blow-up: resuming
        there would draw the same z and eps on the same weights and data, into the same
        blow-up. The n-th blow-up's resume draws from the stream seeded by (--seed, n)
        instead; a resume from any later checkpoint restores its state as it was saved.
        """
        path = self.logdir / BLOW_UPS_FILE
        if not path.is_file():
            return
        blow_ups = json.loads(path.read_text())
        if blow_ups and blow_ups[-1]["resume_from"] == self.start:
            random_generator.reset_from_seed(devices.derived_seed(self.config["seed"], len(blow_ups)))

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
                rundir.data_identity(self.record()), config["data_dir"], seed=config["seed"],
                num_samples=config.get("eval_samples", quality.DEFAULT_NUM_SAMPLES),
                inception_weights=config.get("inception_weights", "imagenet"), image_size=config["image_size"],
            )
        devices.seed_everything(config["seed"], strategy)
        return evaluator

    def iterations(self):
        """The generator iterations still to run: start + 1 ... train_steps."""
        if self.start >= self.config["train_steps"]:
            print(f"already trained for {self.start} generator iterations; raise --train_steps to go on")
        return range(self.start + 1, self.config["train_steps"] + 1)

    def end_iteration(self, iteration, metrics):
        """Records that generator iteration `iteration` is done; logs, samples and checkpoints on schedule.

        At its end, between two iterations and after the finished one is logged, is where a
        Ctrl-C or SIGTERM stops the run (cli.StopRequested; __exit__ saves the checkpoint), so
        that a checkpoint always holds whole iterations.
        """
        import tensorflow as tf

        self.iterations_done.assign(iteration)
        due = self.due(iteration)
        if any(due):
            self.raise_if_directory_lost(iteration)
        if due.log or due.checkpoint:  # the numbers are read from the device here only, never per update
            metrics = {key: float(value) for key, value in metrics.items()}
            metrics = self.check_finite(iteration, metrics, weights=due.checkpoint)
        saved = not due.checkpoint
        try:
            if due.checkpoint:
                self.manager.save(checkpoint_number=iteration)  # on every worker: saving is collective
                saved = True
            if self.chief:
                self.write_iteration(iteration, metrics, due)
        except (OSError, tf.errors.OpError) as error:  # the folder went while a file was being written, say
            self.raise_if_directory_lost(iteration)
            written = cli.disk_full(error)
            if written is not None and self.chief:
                written = "the checkpoint" if not saved else os.path.relpath(written or self.logdir, self.logdir)
                raise self.out_of_space(iteration, written) from None
            raise
        self.stop_if_requested()

    def out_of_space(self, iteration, written):
        """The UserError for a full disk, which left `written` unwritten at generator iteration
        `iteration`; what a checkpoint save left half-written is removed first, to free its space."""
        rundir.remove_partial_saves(self.logdir)
        latest = rundir.latest_checkpoint(self.logdir)
        size = sum(variable.numpy().nbytes for variable in self.checkpoint_variables)
        resume = f"resume from {pathlib.Path(latest).name}" if latest else "start it again (no checkpoint yet)"
        return cli.UserError(f"{self.logdir}: no space left on device for {written} at generator iteration "
                             f"{iteration}; free some space there (a checkpoint takes about {math.ceil(size / 1e6)} "
                             f"MB), then run the same command to {resume}")

    def raise_if_directory_lost(self, iteration=None):
        """Raises RunDirectoryLost once the run's folder is no longer the one the chief holds
        (deleted, or deleted and made again by another run): what this run wrote next would
        land in the other. `iteration`: the generator iteration it stops at (None: at start)."""
        if self._lock and self._lock.replaced():
            when = "was starting" if iteration is None else f"trained; stopped at generator iteration {iteration}"
            raise RunDirectoryLost(f"{self.logdir} was deleted or replaced while this run {when} without writing "
                                   "there (nothing saved)") from None

    def due(self, iteration):
        """What is due at the end of generator iteration `iteration` (the Due schedule): every
        --log_every, --checkpoint_every, --sample_every and --eval_every iterations, and
        everything at the last one (--train_steps); sample grids also at EARLY_SAMPLES
        iterations into each session, so that a picture comes within the first minute."""
        config = self.config
        last = iteration == config["train_steps"]
        return Due(log=iteration % config["log_every"] == 0 or last,
                   checkpoint=iteration % config["checkpoint_every"] == 0 or last,
                   samples=(iteration % config["sample_every"] == 0 or last
                            or iteration - self.start in EARLY_SAMPLES),
                   evaluate=bool(self.evaluator) and (iteration % config["eval_every"] == 0 or last))

    def write_iteration(self, iteration, metrics, due):
        """The chief's part of end_iteration: scalars, progress, evaluation and sample grids, as `due` says."""
        values = {}
        if due.log:
            values = dict(metrics)
            now = time.perf_counter()
            values["perf/steps_per_sec"] = (iteration - self._tick[1]) / (now - self._tick[0])
            self._tick = (now, iteration)
        if due.evaluate:
            values.update(self.evaluate(iteration))
            self.raise_if_directory_lost(iteration)  # (an evaluation may take minutes)
        if values:
            self.log.scalars(iteration, values)
        self.progress.update(iteration, metrics)
        if due.samples:
            self.save_samples(iteration)
        if due.checkpoint:
            self.log.flush()

    def stop_if_requested(self):
        if cli.stop_requested():
            raise cli.StopRequested

    def check_finite(self, iteration, metrics, weights):
        """The logged numbers that are finite; stops the run when the weights are not.

        What the run keeps decides: the weights and the optimizers' state. If one of them is
        NaN or infinite the run stops. A NaN or infinite logged number with a finite state is
        an update that was not applied: float16's loss scale skips an update whose gradients
        overflowed, and halves the scale. The run goes on (that number left out of the log)
        while the loss scale falls between readings; it stops once NON_FINITE_READINGS
        readings in a row that were not such a fall are non-finite, or once the loss scale
        is below 1 (the overflow is then not the scale's). Before a save the state is checked
        even when every number is finite. Nothing non-finite is logged or saved, so the
        newest checkpoint on disk stays the last good one; rerunning the command resumes
        from it.
        """
        non_finite = [key for key, value in metrics.items() if not math.isfinite(value)]  # Python floats
        scales, self._loss_scales = self._loss_scales, self.loss_scales()
        if not non_finite:
            self._non_finite_readings = 0
            if weights and not self.weights_finite():
                raise self.blow_up(iteration, "a weight is not finite")
            return metrics
        what = f"{non_finite[0]} is {metrics[non_finite[0]]}"
        if not self.weights_finite():
            raise self.blow_up(iteration, f"{what}, and so is a weight")
        if self._loss_scales and min(self._loss_scales) < 1:
            raise self.blow_up(iteration, f"{what} with the float16 loss scale down to {min(self._loss_scales):.3g}")
        scale_fell = any(now < before for now, before in zip(self._loss_scales, scales))
        self._non_finite_readings = 0 if scale_fell else self._non_finite_readings + 1
        if self._non_finite_readings >= NON_FINITE_READINGS:
            raise self.blow_up(iteration, f"{what} at {NON_FINITE_READINGS} logged iterations in a row")
        self.progress.message(f"step {iteration}: {what} with finite weights and optimizer state: an update that "
                              "was not applied (float16's loss scale skips those); not logged")
        return {key: value for key, value in metrics.items() if key not in non_finite}

    def loss_scales(self):
        """The optimizers' float16 loss scales now (none without --mixed_precision=float16)."""
        return [float(optimizer.dynamic_scale) for optimizer in self.optimizers if hasattr(optimizer, "dynamic_scale")]

    def weights_finite(self):
        import tensorflow as tf

        variables = self.checkpoint_variables
        floats = [v for v in variables if "float" in str(v.dtype)]  # not the step counters
        return bool(tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in floats]))

    def blow_up(self, iteration, what):
        """The NonFiniteError that stops the run at `iteration`, after recording the blow-up in
        blow_ups.json, so that the resume draws other random numbers (reseed_after_blow_up)."""
        latest = self.manager.latest_checkpoint
        resume_from = int(pathlib.Path(latest).name.split("-")[-1]) if latest else 0
        if self.chief:
            path = self.logdir / BLOW_UPS_FILE
            blow_ups = json.loads(path.read_text()) if path.is_file() else []
            rundir.write_json(path, [*blow_ups, {"generator_iteration": iteration, "what": what,
                                                 "resume_from": resume_from}])
        kept = (f"the latest checkpoint, {pathlib.Path(latest).name}, holds finite weights: run the same "
                "command to resume from it with other random numbers, or start a new --logdir with a lower "
                "--learning_rate" if latest else "no checkpoint was saved before it; lower --learning_rate and "
                "start again")
        return NonFiniteError(f"stopped at generator iteration {iteration}: {what} (nothing saved); {kept}")

    def save_on_stop(self, stopped_between_iterations):
        """After a Ctrl-C or SIGTERM: a checkpoint if the run stopped between two iterations with
        finite weights, else none (the newest on disk stays the last good one); exits with 130.
        A checkpoint that does not fit on the disk is one line (out_of_space), exit status 2."""
        import tensorflow as tf

        iteration = int(self.iterations_done.numpy())
        kept = f"the latest checkpoint is {pathlib.Path(self.manager.latest_checkpoint or 'none').name}"
        if not stopped_between_iterations:  # a second signal, in the middle of an iteration
            self.progress.message(f"interrupted again: stopped at once, nothing saved; {kept}")
            sys.exit(cli.stop_exit_status())
        if not self.weights_finite():  # a blow-up since the last check: keep the good checkpoint
            self.progress.message(f"interrupted at generator iteration {iteration} with non-finite weights; "
                                  "nothing saved, the latest checkpoint is the last good one")
            sys.exit(cli.stop_exit_status())
        try:
            self.manager.save(checkpoint_number=iteration)
        except KeyboardInterrupt:  # a second signal during the save: TensorFlow's index still names the last one
            self.progress.message(f"interrupted again while saving: nothing saved; {kept}")
            sys.exit(cli.stop_exit_status())
        except (OSError, tf.errors.OpError) as error:
            if cli.disk_full(error) is None:
                raise
            raise self.out_of_space(iteration, "the checkpoint") from None
        self.progress.message(f"interrupted: saved a checkpoint at generator iteration {iteration}; "
                              "run the same command to resume")
        sys.exit(cli.stop_exit_status())

    def save_samples(self, iteration):
        """samples/step_NNNNNNN.png, the fixed-noise grid at generator iteration `iteration`, and the
        same picture as samples/latest.png; each file is replaced whole or not at all."""
        samples = images.to_uint8(self.generator(self.fixed_inputs, training=False))
        sample_grid = images.grid(samples, columns=8)
        path = self.logdir / "samples" / f"step_{iteration:07d}.png"
        images.save_png(sample_grid, path)
        with arguments.written_whole(path.with_name(LATEST_SAMPLES)) as partial:
            shutil.copyfile(path, partial)
        self.log.image(iteration, "samples", sample_grid)

    def evaluate(self, iteration):
        """Sample-quality metrics of the generator now, as eval/* scalars."""
        began = time.perf_counter()
        samples, labels = sampling.generate(
            self.generator, self.evaluator.num_samples, seed=self.config["seed"] + iteration,
            num_classes=self.num_classes)
        results = self.evaluator.score(samples, labels)
        self._tick = (self._tick[0] + time.perf_counter() - began, self._tick[1])  # keep it out of steps/s
        self.progress.message(f"step {iteration}: " + "  ".join(f"{key} {value:.4g}" for key, value in results.items()))
        return {f"eval/{key}": value for key, value in results.items()}

    def __enter__(self):
        self._stops = cli.stops_between_iterations()
        self._stops.__enter__()
        return self

    def __exit__(self, kind, error, trace):
        try:
            return self._finish(kind)
        finally:
            self._release_lock()

    def _release_lock(self):
        if self._lock:
            self._lock.release()

    def _finish(self, kind):
        """What a run does as it ends: says it is done, or saves a checkpoint where it stopped; --export."""
        self._stops.__exit__(None, None, None)
        self.progress.close()
        if kind is not None and issubclass(kind, RunDirectoryLost):
            return False
        self.raise_if_directory_lost(int(self.iterations_done.numpy()))  # a stop or the end: nothing is written
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
        if self.log is None:  # a worker, or a finished run: --export still exports what the run has
            if kind is None and self.chief and self.config.get("export"):
                export.export(self.logdir, self.make_generator)
            return False
        self.log.flush()
        if kind is not None and issubclass(kind, KeyboardInterrupt):
            self.save_on_stop(stopped_between_iterations=issubclass(kind, cli.StopRequested))
        if kind is None and self.start < self.config["train_steps"]:
            self.progress.message(f"done: {self.config['train_steps']} generator iterations in {self.logdir}")
        if kind is None and self.config.get("export"):
            export.export(self.logdir, self.make_generator)
        return False
