"""Every setting against the line it comes from: flag defaults, optimizers and the papers' runs.

Each value a variant's define_flags defaults to, each optimizer setting its make_optimizers
picks, and each value a flagfile in configs/ sets is listed here with its source (a paper's
section or an official script and the name it has there). A value that drifts from its
source fails, and so does a flag or a flagfile line that has no entry here. Then each
flagfile trains one iteration at a tiny batch.

The official code: DCGAN Newmu/dcgan_code (faces/train_uncond_dcgan.py, lib/updates.py);
WGAN martinarjovsky/WassersteinGAN (main.py, PyTorch); WGAN-GP igul222/improved_wgan_training
(gan_cifar.py, gan_64x64.py, TensorFlow 1); SNGAN pfnet-research/sngan_projection (Chainer);
R1 LMescheder/GAN_stability (PyTorch).
"""
import keras
import numpy as np
import pytest
from absl import flags
from PIL import Image

from common import cli
from tests.helpers import REPO, VARIANTS, metrics_rows, parse, train_module

ITERS = "gan_cifar.py and gan_64x64.py: ITERS = 200000, every MODE"
WGAN_GP_ADAM = "WGAN-GP Alg. 1: alpha 1e-4, beta1 0, beta2 0.9 (gan_64x64.py's AdamOptimizer)"
WGAN_GP_FLAGS = {  # wgan_gp/'s, which wgan_r1/ copies
    "train_steps": (200_000, ITERS),
    "batch_size": (64, "WGAN-GP Alg. 1's m; gan_cifar.py and gan_64x64.py: BATCH_SIZE = 64"),
    "n_critic": (5, "WGAN-GP Alg. 1: n_critic = 5; the code's CRITIC_ITERS = 5"),
    "gp_lambda": (10.0, "WGAN-GP Alg. 1: lambda = 10; the code's LAMBDA = 10"),
    "optimizer": ("adam", "WGAN-GP Alg. 1 (rmsprop: Fig. 3's comparison)"),
    "learning_rate": (1e-4, WGAN_GP_ADAM),
    "beta1": (0.0, WGAN_GP_ADAM + "; gan_cifar.py and gan_mnist.py used 0.5"),
    "beta2": (0.9, WGAN_GP_ADAM),
    "critic_norm": ("none", "gan_cifar.py and gan_mnist.py: no critic normalization in MODE wgan-gp"),
}
DEFAULTS = {  # variant: {flag its define_flags adds: (default, source)}
    "dcgan": {
        "train_steps": (200_000, ITERS),
        "batch_size": (128, "DCGAN paper, Section 4: mini-batches of 128; dcgan_code: nbatch = 128"),
        "n_critic": (1, "GAN paper, Alg. 1: k = 1; dcgan_code: k = 1"),
        "g_loss": ("non_saturating", "GAN paper, Section 3; dcgan_code: g_cost on p_gen vs ones"),
        "learning_rate": (2e-4, "DCGAN paper, Section 4: 0.0002; dcgan_code: lr = 0.0002"),
        "beta1": (0.5, "DCGAN paper, Section 4: beta1 0.5; dcgan_code: b1 = 0.5"),
    },
    "wgan": {
        "train_steps": (200_000, ITERS),
        "batch_size": (64, "WGAN Alg. 1: m = 64; main.py: --batchSize 64"),
        "n_critic": (5, "WGAN Alg. 1: n_critic = 5; main.py: --Diters 5"),
        "clip_value": (0.01, "WGAN Alg. 1: c = 0.01; main.py: --clamp_upper 0.01"),
        "learning_rate": (5e-5, "WGAN Alg. 1: alpha = 0.00005; main.py: --lrD and --lrG 0.00005"),
        "official_critic_schedule": (False, "WGAN Alg. 1 has no bursts (main.py's Diters = 100)"),
    },
    "wgan_gp": WGAN_GP_FLAGS,
    "sngan": {  # wgan_gp/'s optimizer and critic updates, a listed deviation
        "train_steps": (200_000, ITERS),
        "batch_size": (64, "sngan_projection configs: batchsize 64"),
        "n_critic": (5, "SNGAN paper, setting A: n_dis = 5; sngan_projection: n_dis 5"),
        "learning_rate": (1e-4, "as wgan_gp/ (SNGAN setting A: 1e-4; sngan_projection: 2e-4)"),
        "beta1": (0.0, "as wgan_gp/ (SNGAN setting A: 0.5; sngan_projection: 0.0)"),
        "beta2": (0.9, "as wgan_gp/ (SNGAN setting A: 0.9; sngan_projection: 0.9)"),
    },
    "wgan_r1": {**WGAN_GP_FLAGS,
                "gp_lambda": (5.0, "R1 = gamma/2 E||grad D(x)||^2, gamma = GAN_stability's reg_param 10")},
}
TF1_ADAM_EPSILON = (1e-8, "TensorFlow 1's tf.train.AdamOptimizer default, which the WGAN-GP code uses")
OPTIMIZERS = {  # variant: (Keras class, {attribute: (value, source)}) at the default flags
    "dcgan": ("Adam", {"beta_2": (0.999, "dcgan_code lib/updates.py: Adam b2 = 0.999"),
                       "epsilon": (1e-8, "dcgan_code lib/updates.py: Adam e = 1e-8")}),
    "wgan": ("RMSprop", {"rho": (0.99, "main.py: torch.optim.RMSprop's default alpha 0.99"),
                         "momentum": (0.0, "main.py: torch.optim.RMSprop's default momentum 0"),
                         # torch divides by sqrt(v) + 1e-8, Keras by sqrt(v + epsilon).
                         "epsilon": (1e-16, "main.py: torch.optim.RMSprop's eps 1e-8, squared")}),
    "wgan_gp": ("Adam", {"beta_1": (0.0, WGAN_GP_ADAM), "beta_2": (0.9, WGAN_GP_ADAM),
                         "epsilon": TF1_ADAM_EPSILON}),
    "sngan": ("Adam", {"beta_1": (0.0, "as wgan_gp/"), "beta_2": (0.9, "as wgan_gp/"),
                       "epsilon": (1e-8, "chainer.optimizers.Adam's default eps, sngan_projection's")}),
    "wgan_r1": ("Adam", {"beta_1": (0.0, WGAN_GP_ADAM), "beta_2": (0.9, WGAN_GP_ADAM),
                         "epsilon": TF1_ADAM_EPSILON}),
}
TF1_RMSPROP = ("RMSprop", {  # wgan_gp/ and wgan_r1/ with --optimizer=rmsprop, at the default betas
    "rho": (0.9, "gan_cifar.py MODE wgan: tf.train.RMSPropOptimizer's default decay 0.9"),
    "momentum": (0.0, "gan_cifar.py MODE wgan: tf.train.RMSPropOptimizer's default momentum 0"),
    "epsilon": (1e-10, "gan_cifar.py MODE wgan: tf.train.RMSPropOptimizer's default epsilon 1e-10"),
})

GAN_64 = "gan_64x64.py, MODE wgan-gp"
CONFIGS = {  # flagfile: (variant, image side, {flag it sets: (value, source)})
    "wgan_gp_cifar10.cfg": ("wgan_gp", 32, {
        "dataset": ("cifar10", "gan_cifar.py: lib.cifar10.load"),
        "train_steps": (200_000, "gan_cifar.py: ITERS = 200000"),
        "batch_size": (64, "gan_cifar.py: BATCH_SIZE = 64"),
        "n_critic": (5, "gan_cifar.py: CRITIC_ITERS = 5"),
        "gp_lambda": (10.0, "gan_cifar.py: LAMBDA = 10"),
        "learning_rate": (1e-4, "gan_cifar.py, MODE wgan-gp: AdamOptimizer learning rate 1e-4"),
        "beta1": (0.5, "gan_cifar.py, MODE wgan-gp: AdamOptimizer beta1 0.5"),
        "beta2": (0.9, "gan_cifar.py, MODE wgan-gp: AdamOptimizer beta2 0.9"),
        "eval_every": (1000, "gan_cifar.py: inception score every 1,000 iterations"),
        "checkpoint_every": (1000, "run cadence, not a training setting"),
        "sample_every": (1000, "run cadence, not a training setting"),
    }),
    "wgan_gp_64x64.cfg": ("wgan_gp", 64, {
        "image_size": (64, "gan_64x64.py: OUTPUT_DIM = 64*64*3"),
        "train_steps": (200_000, "gan_64x64.py: ITERS = 200000"),
        "batch_size": (64, "gan_64x64.py: BATCH_SIZE = 64"),
        "n_critic": (5, "gan_64x64.py: CRITIC_ITERS = 5"),
        "gp_lambda": (10.0, "gan_64x64.py: LAMBDA = 10"),
        "critic_norm": ("layer", f"{GAN_64}: Normalize() is Layernorm in the critic"),
        "learning_rate": (1e-4, f"{GAN_64}: AdamOptimizer learning rate 1e-4"),
        "beta1": (0.0, f"{GAN_64}: AdamOptimizer beta1 0, as WGAN-GP Alg. 1"),
        "beta2": (0.9, f"{GAN_64}: AdamOptimizer beta2 0.9"),
        "checkpoint_every": (1000, "run cadence, not a training setting"),
        "sample_every": (1000, "run cadence, not a training setting"),
    }),
    "dcgan_64x64.cfg": ("dcgan", 64, {
        "image_size": (64, "DCGAN paper, Figure 1: 64 x 64 x 3; dcgan_code: npx = 64"),
        "batch_size": (128, "DCGAN paper, Section 4; dcgan_code: nbatch = 128"),
        "n_critic": (1, "GAN paper, Alg. 1: k = 1; dcgan_code: k = 1"),
        "learning_rate": (2e-4, "DCGAN paper, Section 4; dcgan_code: lr = 0.0002"),
        "beta1": (0.5, "DCGAN paper, Section 4; dcgan_code: b1 = 0.5"),
        "checkpoint_every": (1000, "run cadence, not a training setting"),
        "sample_every": (1000, "run cadence, not a training setting"),
    }),
    "wgan_64x64.cfg": ("wgan", 64, {
        "image_size": (64, "main.py: --imageSize 64"),
        "batch_size": (64, "WGAN Alg. 1: m = 64; main.py: --batchSize 64"),
        "n_critic": (5, "WGAN Alg. 1: n_critic = 5; main.py: --Diters 5"),
        "clip_value": (0.01, "WGAN Alg. 1: c = 0.01; main.py: --clamp_upper 0.01"),
        "learning_rate": (5e-5, "WGAN Alg. 1: alpha = 0.00005; main.py: --lrD, --lrG"),
        "official_critic_schedule": (True, "main.py: Diters = 100 for the first 25 and every 500th"),
        "checkpoint_every": (1000, "run cadence, not a training setting"),
        "sample_every": (500, "main.py: fake samples every 500 generator iterations"),
    }),
}


def assert_cited(actual, cited, where):
    """actual must equal the cited (value, source); floats to float32's precision."""
    value, source = cited
    matches = actual == pytest.approx(value, rel=1e-6) if isinstance(value, float) else actual == value
    assert matches, f"{where} is {actual!r}; its source says {value!r} ({source})"


def shared_flags():
    """The flags every train.py shares (common/cli.py): cadence and plumbing, not a paper's."""
    flag_values = flags.FlagValues()
    cli.define_flags(flag_values, "shared")
    return set(flag_values)


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_flag_default_is_the_value_its_source_gives(variant):
    config = cli.default_config(train_module(variant))
    own = set(config) - shared_flags() - {"variant"}
    assert own == set(DEFAULTS[variant]), "a flag without a cited source, or a source without its flag"
    for flag, cited in DEFAULTS[variant].items():
        assert_cited(config[flag], cited, f"{variant} --{flag} default")


def check_optimizers(variant, config, expected):
    kind, settings = expected
    optimizers = train_module(variant).make_optimizers(config)
    assert len(optimizers) == 2  # G's and D's, each with its own state
    for optimizer in optimizers:
        assert type(optimizer).__name__ == kind
        assert float(optimizer.learning_rate) == pytest.approx(config["learning_rate"], rel=1e-6)
        for attribute, cited in settings.items():
            assert_cited(float(getattr(optimizer, attribute)), cited, f"{variant}'s {kind} {attribute}")


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_optimizer_is_built_with_the_settings_its_source_uses(variant):
    check_optimizers(variant, cli.default_config(train_module(variant)), OPTIMIZERS[variant])


@pytest.mark.parametrize("variant", ["wgan_gp", "wgan_r1"])
def test_the_rmsprop_option_is_the_official_codes_tensorflow_rmsprop(variant):
    check_optimizers(variant, cli.default_config(train_module(variant), optimizer="rmsprop"), TF1_RMSPROP)


def test_the_checks_catch_a_drifted_value():
    # A check that cannot fail is no check: the case, beta1 0.5 where gan_64x64.py has 0.
    with pytest.raises(AssertionError, match="gan_64x64.py"):
        assert_cited(0.5, CONFIGS["wgan_gp_64x64.cfg"][2]["beta1"], "beta1")
    with pytest.raises(AssertionError, match="RMSprop"):  # Keras' RMSprop defaults, not torch's
        assert_cited(keras.optimizers.RMSprop().rho, OPTIMIZERS["wgan"][1]["rho"], "rho")


def test_every_flagfile_is_smoke_tested():
    assert sorted(path.name for path in (REPO / "configs").glob("*.cfg")) == sorted(CONFIGS)


def flagfile_values(name):
    """{flag: True} for each --flag line of configs/NAME; also checks that each has a citation.

    A value line must sit in a block of lines that a comment heads (no blank line between).
    """
    values, cited = {}, False
    for number, line in enumerate((REPO / "configs" / name).read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            cited = False
        elif line.startswith("#"):
            cited = True
        else:
            assert cited, f"configs/{name} line {number}: {line} has no comment citing its source"
            values[line[2:].split("=")[0]] = True
    return values


@pytest.mark.parametrize("name", CONFIGS)
def test_each_flagfile_value_is_the_one_its_cited_line_gives(name):
    variant, _, expected = CONFIGS[name]
    assert set(flagfile_values(name)) == set(expected), "a flagfile value without an entry here"
    dataset = [] if "dataset" in expected else ["--dataset=folder:/images"]  # parsed, never read
    config = parse(variant, [f"--flagfile={REPO / 'configs' / name}", *dataset])
    for flag, cited in expected.items():
        assert_cited(config[flag], cited, f"configs/{name} --{flag}")


@pytest.mark.parametrize("name", CONFIGS)
def test_a_papers_run_trains_one_iteration_at_a_tiny_batch(name, tmp_path):
    variant, size, _ = CONFIGS[name]
    flagfile = f"--flagfile={REPO / 'configs' / name}"
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(8):
        Image.fromarray(rng.integers(0, 256, (size + 8, size, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    # The same run, one iteration at batch 2 on the generated folder, with one critic update
    # (and without the WGAN code's 100-update bursts). What this checks is that the flagfile's
    # networks, losses and optimizers train: one critic and one generator update do that, and
    # a second iteration cost 2-3 CPU-s more at 64x64 (its update and a second checkpoint of
    # the 64x64 models, 440 MB for wgan_gp's). The flagfile's n_critic is checked against its
    # source above, and n_critic updates per iteration in tests/test_steps.py.
    tiny = [f"--dataset=folder:{folder}", f"--image_size={size}", "--batch_size=2", "--train_steps=1",
            "--n_critic=1", "--eval_every=0", "--log_every=1", f"--logdir={tmp_path / 'run'}"]
    if variant == "wgan":
        tiny.append("--noofficial_critic_schedule")
    config = parse(variant, [flagfile, *tiny])
    train_module(variant).train(config)
    assert [int(row["step"]) for row in metrics_rows(tmp_path / "run")] == [1]


def test_the_flag_config_is_read_only_and_overrides_make_a_new_one():
    # The flags say what was asked; a function that wants other values builds its own mapping.
    config = cli.default_config(train_module("wgan_gp"))
    with pytest.raises(TypeError):
        config["learning_rate"] = 0.0
    changed = cli.default_config(train_module("wgan_gp"), learning_rate=0.0)
    assert changed["learning_rate"] == 0.0 != config["learning_rate"]
