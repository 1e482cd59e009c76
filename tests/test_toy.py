"""The 2-D toy sets and the toy trainer that runs every variant's own steps on them."""
import json

import numpy as np
import pytest

from common import metrics
from common.cli import UserError
from tests.helpers import own_stderr_lines, run_in_process, run_python
from toy import data
from toy import train as toy_train

VARIANTS = toy_train.VARIANTS


def test_gaussian_mixtures_are_built_as_the_official_toy_script_builds_them():
    eight, grid = data.centres("8gaussians"), data.centres("25gaussians")
    # 8 points on a circle of radius 2, 45 degrees apart, divided by 1.414.
    np.testing.assert_allclose(np.linalg.norm(eight, axis=1), 2 / 1.414)
    angles = np.sort(np.degrees(np.arctan2(eight[:, 1], eight[:, 0])) % 360)
    np.testing.assert_allclose(angles, np.arange(0, 360, 45), atol=1e-9)
    # A 5x5 grid with spacing 2 from -4 to 4, divided by 2.828.
    assert sorted(set(np.round(grid[:, 0] * 2.828, 9))) == [-4, -2, 0, 2, 4] and len(grid) == 25
    for name, std in (("8gaussians", 0.02 / 1.414), ("25gaussians", 0.05 / 2.828)):
        points = data.sample(name, 20000, np.random.default_rng(0))
        assert points.shape == (20000, 2) and points.dtype == np.float32
        nearest = np.linalg.norm(points[:, None] - data.centres(name)[None], axis=-1).argmin(axis=1)
        offsets = points - data.centres(name)[nearest]
        assert offsets.std(axis=0) == pytest.approx([std, std], rel=0.03)
        assert np.bincount(nearest).min() > 0.8 * 20000 / len(data.centres(name))  # every mode, evenly
        assert metrics.mode_coverage(points, data.centres(name), 3 * std) == (len(data.centres(name)), pytest.approx(0.99, abs=0.01))


def test_swiss_roll_is_a_noisy_spiral_of_about_unit_scale():
    points = data.sample("swissroll", 20000, np.random.default_rng(1)) * 7.5
    radius = np.linalg.norm(points, axis=1)
    assert 1.5 * np.pi - 1 < radius.min() and radius.max() < 4.5 * np.pi + 1  # t in [1.5 pi, 4.5 pi]
    assert data.centres("swissroll") is None
    batch, labels = next(data.batches("swissroll", 7, seed=0))
    assert batch.shape == (7, 2) and labels.tolist() == [0] * 7


@pytest.mark.parametrize("variant", VARIANTS)
def test_toy_trainer_runs_each_variant_and_reports_coverage(variant, tmp_path):
    # One generator iteration (n_critic critic updates and a generator update): each more
    # one only repeats the same traced steps (~0.3 CPU-s).
    config = toy_train.toy_config(variant, dataset="25gaussians", train_steps=1, num_samples=200)
    report = toy_train.run(variant, config, tmp_path)
    assert json.loads((tmp_path / "result.json").read_text())["modes_covered"] == report["modes_covered"]
    # The reported coverage is the saved points' own: recount it from samples.npz.
    with np.load(tmp_path / "samples.npz") as archive:
        points = archive["points"]
    assert points.shape == (200, 2)
    covered, _ = metrics.mode_coverage(points, data.centres("25gaussians"), data.MODE_RADIUS)
    assert report["modes"] == 25 and report["modes_covered"] == covered
    assert report["sliced_wasserstein"] > report["real_sliced_wasserstein"] > 0  # 1 iteration: far from the data
    assert report["config"]["batch_size"] == 256 and report["config"]["train_steps"] == 1
    assert (tmp_path / "samples.png").stat().st_size > 0


def test_toy_defaults_are_the_official_toy_scripts():
    # gan_toy.py: batch 256; Adam(1e-4, beta1 0.5, beta2 0.9) and lambda 0.1 for the penalized critics.
    assert toy_train.toy_config("wgan_gp")["gp_lambda"] == 0.1 and toy_train.toy_config("wgan_gp")["beta1"] == 0.5
    assert toy_train.toy_config("wgan_r1")["gp_lambda"] == 0.1 and toy_train.toy_config("sngan")["beta1"] == 0.5
    assert toy_train.toy_config("dcgan")["beta1"] == 0.5 and toy_train.toy_config("wgan")["batch_size"] == 256


def test_toy_command_trains_and_writes_its_result(tmp_path):
    result = run_python(["toy/train.py", "--variant=wgan_r1", "--train_steps=2", "--num_samples=100",
                         f"--logdir={tmp_path}"])
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "result.json").read_text())
    assert report["config"]["variant"] == "wgan_r1" and report["config"]["gp_lambda"] == 0.1
    assert report["config"]["train_steps"] == 2 and report["modes"] == 8


@pytest.mark.parametrize("args, expected", [
    ([], "wgan_gp"), (["--variant", "dcgan"], "dcgan"), (["--variant=sngan", "--variant", "dcgan"], "dcgan"),
    (["--flagfile={dcgan}"], "dcgan"), (["--flagfile={dcgan}", "--variant=wgan"], "wgan"),
    (["--variant=wgan", "--flagfile={dcgan}"], "dcgan"), (["--variant", "wgan-gp"], "wgan-gp"),
    (["--flagfile={missing}", "--variant=dcgan"], "wgan_gp"),  # absl's own parse refuses the file
])
def test_the_variant_that_decides_the_flags_is_the_one_absl_reads(args, expected, tmp_path):
    # It was read as --variant=NAME only: `--variant dcgan` defined wgan_gp's flags for a dcgan
    # run, and the config then failed with a KeyError traceback.
    (tmp_path / "dcgan.cfg").write_text("--variant=dcgan\n")
    files = {"dcgan": tmp_path / "dcgan.cfg", "missing": tmp_path / "missing.cfg"}
    argv = ["toy/train.py", *(arg.format(**files) for arg in args), "--train_steps=1"]
    assert toy_train._variant_on_the_command_line(argv) == expected


def test_toy_command_reads_the_variant_in_any_form_absl_takes(tmp_path):
    result = run_in_process(["toy/train.py", "--variant", "dcgan", "--train_steps=1", "--num_samples=100",
                             f"--logdir={tmp_path}"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "result.json").read_text())["config"]["variant"] == "dcgan"


@pytest.mark.parametrize("args, message", [
    (["--variant=wgan-gp"], "--variant must be one of dcgan, wgan, wgan_gp, sngan, wgan_r1, not 'wgan-gp' "
                            "(did you mean wgan_gp?)"),
    (["--variant", "wgan-gp"], "--variant must be one of dcgan, wgan, wgan_gp, sngan, wgan_r1, not 'wgan-gp' "
                               "(did you mean wgan_gp?)"),
    (["--conditional"], "the toy sets have none"),
])
def test_toy_command_refuses_bad_input_in_one_line(args, message, tmp_path):
    # In this process: the command's one run as a user types it is the test above.
    result = run_in_process(["toy/train.py", *args, "--train_steps=1", f"--logdir={tmp_path / 'run'}"])
    assert result.returncode == 2 and message in own_stderr_lines(result.stderr)[0]
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


def test_toy_trainer_leaves_an_image_runs_folder_as_it_was(tmp_path):
    # Its samples.npz (commands.generate's images) and samples.png were replaced by the toy's points.
    logdir = tmp_path / "run"
    logdir.mkdir()
    for name, content in {"config.json": b"{}", "samples.npz": b"images", "samples.png": b"grid"}.items():
        (logdir / name).write_bytes(content)
    with pytest.raises(UserError, match=f"^{logdir} holds a training run \\(config.json\\); .*choose another --logdir$"):
        toy_train.run("wgan", toy_train.toy_config("wgan", train_steps=1), logdir)
    assert {path.name: path.read_bytes() for path in logdir.iterdir()} == {
        "config.json": b"{}", "samples.npz": b"images", "samples.png": b"grid"}


@pytest.mark.parametrize("blocked", ["samples.png", "samples.npz", "result.json"])
def test_toy_trainer_refuses_a_folder_in_the_way_of_its_result_before_training(tmp_path, blocked):
    # It trained, wrote samples.png, and then failed at a samples.npz folder.
    (tmp_path / "run" / blocked).mkdir(parents=True)
    with pytest.raises(UserError, match=f"^{tmp_path / 'run' / blocked} is a folder, where the toy writes its result$"):
        toy_train.run("wgan", toy_train.toy_config("wgan", train_steps=1), tmp_path / "run")
    assert [path.name for path in (tmp_path / "run").iterdir()] == [blocked]


def test_toy_trainer_refuses_an_image_dataset(tmp_path):
    with pytest.raises(UserError, match="unknown toy dataset 'mnist'"):
        toy_train.run("wgan", toy_train.toy_config("wgan", dataset="mnist"), tmp_path / "run")
    assert not (tmp_path / "run").exists()
