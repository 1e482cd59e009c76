"""A run stays finite, in-process: every switch trains with finite losses (float16 runs apply their
updates), and a blow-up to NaN or inf stops the run with no checkpoint holding it.

Each test calls what `python VARIANT/train.py FLAGS` runs after parsing its flags.
"""
import json
import re

import numpy as np
import pytest
import tensorflow as tf

from common import training_run
from tests.helpers import ITERATIONS, N_CRITIC, VARIANTS, metrics_rows, train_in_process, trained_run

# The switches and the float16 loss scales are tested with the variants' own networks, and so
# are the blow-ups of REAL_NETWORK_BLOW_UPS; what a run does around a blow-up (a Ctrl-C after
# it, the reseeded resume, non-finite losses in a row) on small stand-in networks
# (tests/helpers.py: small_networks).

# 16-bit runs train at batch 2. Most CPUs have no float16 arithmetic, and a float16 iteration
# costs about 3.5 times a float32 one here: a wgan_gp iteration at batch 8, 2.2 CPU-s against
# 0.64; at batch 2, 0.75. What is tested, the loss scale's skips and recoveries, needs no
# larger batch: the skips and scales described below were read at batch 2 (at batch 8 they
# are the same, but for DCGAN's generator, whose first update applied there). CPUs without
# bfloat16 instructions emulate it too, and a finite bfloat16 run needs no larger batch either.
SIXTEEN_BIT_BATCH = "--batch_size=2"


# ---- the switches ------------------------------------------------------------------------------


# wgan_gp in float16 trains here with --conditional, which adds the labels to the same steps;
# without it, in the overflow and float16 blow-up tests below (a run of its own here checked
# the same of the same steps without labels, for 4.4 CPU-s).
@pytest.mark.parametrize(
    "variant, switches",
    [("dcgan", "--mixed_precision=bfloat16"), ("wgan", "--jit_compile"),
     ("wgan_gp", "--conditional --mixed_precision=float16"), ("wgan_gp", "--critic_norm=layer --optimizer=rmsprop"),
     ("sngan", "--conditional --mixed_precision=float16"),
     ("wgan_r1", "--mixed_precision=bfloat16"), ("dcgan", "--mixed_precision=float16")],
)
def test_switches_train_with_finite_losses(variant, switches, tmp_path):
    logdir = tmp_path / "run"
    # Two iterations with a checkpoint after each; three for DCGAN in float16, whose first two
    # critic updates overflow Keras' first loss scale (2^15) and are skipped (the third applies;
    # so does the generator's second).
    iterations = 3 if (variant, switches) == ("dcgan", "--mixed_precision=float16") else 2
    float16 = "--mixed_precision=float16" in switches.split()
    train_in_process(variant, logdir, f"--train_steps={iterations}", "--checkpoint_every=1", *switches.split(),
                     *([SIXTEEN_BIT_BATCH] if "--mixed_precision" in switches else []))
    rows = metrics_rows(logdir)
    assert len(rows) == iterations and all(np.isfinite(float(value)) for row in rows for value in row.values())
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(logdir / "checkpoints")))
    kernels = [name for name in reader.get_variable_to_dtype_map() if name.startswith("generator/")]
    assert kernels and all(reader.get_variable_to_dtype_map()[name] == tf.float32 for name in kernels)
    if float16:
        assert_float16_updates_were_applied(variant, logdir, iterations)


def assert_float16_updates_were_applied(variant, logdir, iterations):
    """Finite losses are not enough: a loss scale that overflows skips every update and halves.

    Reads the checkpoints of the last two of `iterations` generator iterations.
    """
    before, after = (tf.train.load_checkpoint(str(logdir / "checkpoints" / f"ckpt-{step}"))
                     for step in (iterations - 1, iterations))
    updates = {"generator_optimizer": iterations, "discriminator_optimizer": iterations * N_CRITIC[variant]}
    for name, count in updates.items():
        applied = after.get_tensor(f"{name}/inner_optimizer/_iterations{ITERATIONS}")
        scale = after.get_tensor(f"{name}/dynamic_scale{ITERATIONS}")
        assert applied >= count // 2, f"{name}: {applied} of {count} updates applied"
        assert 2.0**10 <= scale <= 2.0**15, f"{name}: loss scale {scale}"  # starts at 2^15, halves per skip
    shapes = after.get_variable_to_shape_map()  # the critic's kernels, as its optimizer holds them
    critic = [key for key in shapes if key.startswith("discriminator_optimizer/_trainable_variables/")
              and len(shapes[key]) == 4]
    assert critic and any(not np.array_equal(before.get_tensor(key), after.get_tensor(key)) for key in critic)


# ---- a blow-up: NaN or inf stops the run, and no checkpoint holds it -----------------------------


def all_checkpoints_finite(logdir):
    """Every checkpoint left in logdir, read back: are all its floating-point values finite?"""
    indices = sorted((logdir / "checkpoints").glob("ckpt-*.index"))
    for index in indices:
        reader = tf.train.load_checkpoint(str(index)[:-len(".index")])
        for name, dtype in reader.get_variable_to_dtype_map().items():
            if dtype.is_floating and not np.all(np.isfinite(reader.get_tensor(name))):
                return False
    return bool(indices)


class TooLargeStepRun(training_run.TrainingRun):
    """A run whose optimizers take steps far too large once it has restored its checkpoint."""

    def __init__(self, config, generator, discriminator, generator_optimizer, discriminator_optimizer, strategy,
                 **kept):
        super().__init__(config, generator, discriminator, generator_optimizer, discriminator_optimizer, strategy,
                         **kept)
        generator_optimizer.learning_rate = discriminator_optimizer.learning_rate = 1e38


# Whose blow-up trains the variant's own networks: between them every kind of state the
# networks keep (dcgan: BatchNorm in G and D; sngan: spectral norms, BatchNorm in G). The
# other variants' blow-ups, through their own steps and losses, train stand-in networks.
REAL_NETWORK_BLOW_UPS = ("dcgan", "sngan")


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_blow_up_stops_the_run_and_leaves_only_finite_checkpoints(variant, tmp_path, monkeypatch, capsys, request):
    if variant not in REAL_NETWORK_BLOW_UPS:
        request.getfixturevalue("stand_in_networks")
    logdir = tmp_path / "run"
    trained_run(variant, logdir, "--train_steps=2")  # ckpt-2, a good one
    monkeypatch.setattr(training_run, "TrainingRun", TooLargeStepRun)
    with pytest.raises(training_run.NonFiniteError) as error:
        train_in_process(variant, logdir, "--train_steps=40", "--checkpoint_every=1")
    message = str(error.value)
    assert re.match(r"stopped at generator iteration \d+: (\S+ is (nan|inf|-inf), and so is a weight|a weight is not "
                    r"finite) \(nothing saved\); the latest checkpoint, ckpt-\d+, holds finite weights", message), message
    assert "\n" not in message
    assert all_checkpoints_finite(logdir)
    assert all(np.isfinite(float(value)) for row in metrics_rows(logdir) for value in row.values())
    # The same command resumes from the last good checkpoint (here, to blow up again).
    latest = int(tf.train.latest_checkpoint(str(logdir / "checkpoints")).rsplit("-", 1)[1])
    capsys.readouterr()
    with pytest.raises(training_run.NonFiniteError):
        train_in_process(variant, logdir, "--train_steps=40", "--checkpoint_every=1")
    assert f"resuming at generator iteration {latest}" in capsys.readouterr().out
    assert all_checkpoints_finite(logdir)


def start_loss_scales(run, optimizers, scale):
    """Sets a float16 run's loss scales (Keras starts them at 2^15) to `scale`, before its first update."""
    for optimizer in optimizers:
        optimizer.dynamic_scale.assign(scale)
    run._loss_scales = [scale] * 2  # what check_finite compares the next scales with


OVERFLOWING_SCALE = 2.0**25


class OverflowingRun(training_run.TrainingRun):
    """A float16 run whose loss scales start at 2^25: the critic's penalty gradient overflows.

    Here (wgan_gp, seed 0) the first generator iteration's 5 critic updates all overflow and
    are skipped (its logged critic loss is NaN, from 2^20 up); in the second the scale comes
    down to 2^18 and its last updates apply.
    """

    def __init__(self, config, *models_and_strategy, **kept):
        super().__init__(config, *models_and_strategy, **kept)
        start_loss_scales(self, models_and_strategy[2:4], OVERFLOWING_SCALE)


def test_a_float16_overflow_skips_updates_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    # Each overflowing critic update is skipped (NaN loss, weights untouched) and halves the
    # scale; once it is low enough the updates apply. Only what is kept decides the run's health.
    monkeypatch.setattr(training_run, "TrainingRun", OverflowingRun)
    logdir = tmp_path / "run"
    train_in_process("wgan_gp", logdir, "--mixed_precision=float16", "--train_steps=2", "--checkpoint_every=100",
                     SIXTEEN_BIT_BATCH)
    output = capsys.readouterr().out
    assert "loss/discriminator is nan with finite weights" in output  # the guard saw the skips, and let them be
    reader = tf.train.load_checkpoint(str(logdir / "checkpoints" / "ckpt-2"))
    applied = reader.get_tensor(f"discriminator_optimizer/inner_optimizer/_iterations{ITERATIONS}")
    scale = reader.get_tensor(f"discriminator_optimizer/dynamic_scale{ITERATIONS}")
    assert 0 < applied < 10 and 1 <= scale < OVERFLOWING_SCALE  # some of the 10 skipped, the rest applied
    assert all_checkpoints_finite(logdir)
    rows = metrics_rows(logdir)
    assert [row["step"] for row in rows] == ["1", "2"] and rows[-1]["loss/discriminator"]
    assert all(np.isfinite(float(value)) for row in rows for value in row.values() if value)


class TooLargeStepFloat16Run(TooLargeStepRun):
    """A TooLargeStepRun in float16 whose loss scales start at 2^4: after the first update every
    one overflows, is skipped and halves the scale, which falls below 1 in the second generator
    iteration (from Keras' 2^15, in the fourth)."""

    def __init__(self, config, *models_and_strategy, **kept):
        super().__init__(config, *models_and_strategy, **kept)
        start_loss_scales(self, models_and_strategy[2:4], 2.0**4)


def test_a_float16_blow_up_still_stops_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(training_run, "TrainingRun", TooLargeStepFloat16Run)
    with pytest.raises(training_run.NonFiniteError, match=r"stopped at generator iteration \d+: .*lower "
                                                          r"--learning_rate"):
        train_in_process("wgan_gp", tmp_path / "run", "--mixed_precision=float16", "--train_steps=20",
                         SIXTEEN_BIT_BATCH)


@pytest.mark.usefixtures("stand_in_networks")
def test_non_finite_losses_in_a_row_stop_a_run_whose_weights_are_finite(tmp_path, monkeypatch):
    from dcgan import train

    iteration = train.train_iteration

    def nan_loss(*args):
        return {**iteration(*args), "loss/discriminator": tf.constant(float("nan"))}

    monkeypatch.setattr(train, "train_iteration", nan_loss)
    with pytest.raises(training_run.NonFiniteError, match="stopped at generator iteration 3: loss/discriminator is "
                                                          "nan at 3 logged iterations in a row"):
        train_in_process("dcgan", tmp_path / "run", "--train_steps=10")


@pytest.mark.usefixtures("stand_in_networks")
def test_an_interrupt_after_a_blow_up_saves_nothing(tmp_path, monkeypatch, capsys):
    # Between two checks the weights can already be NaN; the Ctrl-C save must not write them.
    logdir = tmp_path / "run"
    trained_run("dcgan", logdir, "--train_steps=2")  # ckpt-2, a good one
    monkeypatch.setattr(training_run, "TrainingRun", TooLargeStepRun)
    stops = iter([False] * 4 + [True])  # Ctrl-C arrives at the fifth iteration
    monkeypatch.setattr(training_run.cli, "stop_requested", lambda: next(stops))
    with pytest.raises(SystemExit) as exit_status:
        train_in_process("dcgan", logdir, "--train_steps=40", "--log_every=100", "--checkpoint_every=100")
    assert exit_status.value.code == 130
    assert "with non-finite weights; nothing saved" in capsys.readouterr().out
    assert tf.train.latest_checkpoint(str(logdir / "checkpoints")).endswith("ckpt-2")
    assert all_checkpoints_finite(logdir)


class BlowsUpAtThree(training_run.TrainingRun):
    """A run whose weights are found non-finite at generator iteration 3, and at no other."""

    def weights_finite(self):
        return int(self.iterations_done.numpy()) != 3


@pytest.mark.usefixtures("stand_in_networks")
def test_the_resume_after_a_blow_up_draws_other_random_numbers(tmp_path, monkeypatch):
    # The last good checkpoint holds the random state that led to the blow-up; replaying it
    # on the same weights and data would blow up again, so that one resume is reseeded.
    def losses(name):
        return [(row["loss/discriminator"], row["loss/generator"]) for row in metrics_rows(tmp_path / name)]

    trained_run("wgan_gp", tmp_path / "straight", "--train_steps=3")
    trained_run("wgan_gp", tmp_path / "run", "--train_steps=2")
    with monkeypatch.context() as patch:
        patch.setattr(training_run, "TrainingRun", BlowsUpAtThree)
        with pytest.raises(training_run.NonFiniteError, match="resume from it with other random numbers"):
            train_in_process("wgan_gp", tmp_path / "run", "--train_steps=3", "--checkpoint_every=1")
    (blow_up,) = json.loads((tmp_path / "run" / training_run.BLOW_UPS_FILE).read_text())
    assert blow_up["generator_iteration"] == 3 and blow_up["resume_from"] == 2
    train_in_process("wgan_gp", tmp_path / "run", "--train_steps=3")
    assert losses("run")[:2] == losses("straight")[:2]  # iterations 1 and 2, before the blow-up
    assert losses("run")[2] != losses("straight")[2]  # the same weights and data, other z and eps


def test_only_the_resume_from_the_blow_ups_checkpoint_is_reseeded(tmp_path):
    import types

    def state_after_resume(start, blow_ups):
        (tmp_path / training_run.BLOW_UPS_FILE).write_text(json.dumps(blow_ups))
        rng = tf.random.Generator.from_seed(7)
        run = types.SimpleNamespace(logdir=tmp_path, config={"seed": 0}, start=start)
        training_run.TrainingRun.reseed_after_blow_up(run, rng)
        return rng.state.numpy().tolist()

    saved = tf.random.Generator.from_seed(7).state.numpy().tolist()
    first = state_after_resume(2, [{"resume_from": 2}])
    assert first != saved
    assert state_after_resume(4, [{"resume_from": 2}]) == saved  # a later checkpoint keeps its state
    second = state_after_resume(2, [{"resume_from": 2}, {"resume_from": 2}])
    assert second not in (saved, first)  # a second blow-up there: a stream of its own again
