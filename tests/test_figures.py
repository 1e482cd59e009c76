"""Each figure script's quick mode, run as a user runs it, must still show its paper's claim."""
import json

import pytest

from tests.helpers import run_python


def run_figure(script, tmp_path, *args):
    result = run_python([f"figures/{script}.py", *args, f"--output_dir={tmp_path}"], timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def claims(tmp_path, name):
    assert (tmp_path / f"{name}.png").stat().st_size > 0
    return json.loads((tmp_path / f"{name}.json").read_text())


def test_penalized_critic_peaks_at_the_modes_and_the_clipped_one_is_nearly_quadratic(tmp_path):
    run_figure("critic_surfaces", tmp_path, "--quick")
    numbers = claims(tmp_path, "critic_surfaces_quick")
    penalty, clipping = numbers["8gaussians/gradient penalty"], numbers["8gaussians/weight clipping"]
    assert int(penalty["modes_at_local_maxima"].split("/")[0]) >= 7
    assert int(clipping["modes_at_local_maxima"].split("/")[0]) <= 2
    assert clipping["quadratic_r2"] > 0.85


def test_clipping_makes_deep_critic_gradients_vanish_and_piles_weights_at_c(tmp_path):
    run_figure("gradient_norms", tmp_path, "--quick")
    numbers = claims(tmp_path, "gradient_norms_quick")
    assert numbers["clipping c=0.001"]["log10_norm_layer1_over_layer12"] < -3
    assert numbers["clipping c=0.01"]["log10_norm_layer1_over_layer12"] < -1
    assert abs(numbers["gradient penalty"]["log10_norm_layer1_over_layer12"]) < 1
    assert numbers["clipping c=0.01"]["weights_within_2pct_of_largest"] > 0.5
    assert numbers["gradient penalty"]["weights_within_2pct_of_largest"] < 0.05


def test_gan_discriminator_saturates_where_the_wgan_critic_stays_linear(tmp_path):
    run_figure("discriminator_vs_critic", tmp_path, "--quick")
    numbers = claims(tmp_path, "discriminator_vs_critic_quick")
    assert numbers["discriminator_D_at_fakes"] < 1e-3
    assert numbers["discriminator_gradient_at_fakes_over_max"] < 1e-3
    assert numbers["critic_gradient_at_fakes_over_max"] > 0.2
    assert numbers["critic_linear_fit_r2"] > 0.9


def test_one_dimensional_gan_moves_onto_the_data_and_d_flattens(tmp_path):
    run_figure("gan_1d", tmp_path, "--quick")
    numbers = list(claims(tmp_path, "gan_1d_quick").values())
    first, last = numbers[0], numbers[-1]
    assert last["wasserstein_1"] < 0.2 * first["wasserstein_1"]
    assert last["mean_abs_D_minus_half"] < 0.1


@pytest.mark.parametrize("conditional", [False, True], ids=["unconditional", "conditional"])
def test_latent_walks_from_a_run(tmp_path, conditional):
    logdir = tmp_path / "run"
    flags = ["--conditional"] if conditional else []
    result = run_python(["dcgan/train.py", "--dataset=mnist_5k", "--batch_size=8", "--train_steps=2", *flags,
                         f"--logdir={logdir}"])
    assert result.returncode == 0, result.stderr[-3000:]
    run_figure("latent_walks", tmp_path, f"--logdir={logdir}")
    numbers = claims(tmp_path, "latent_walks")
    assert numbers["checkpoint"].endswith("ckpt-2")
    # Linear steps through a continuous G: no step is far larger than the others.
    assert 1.0 <= numbers["largest_over_mean_step"] < 3.0 and numbers["mean_step_pixel_distance"] > 0
