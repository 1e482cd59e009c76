"""Each figure script's quick mode, run as a user runs it, must still show its paper's claim.

The claims need real training (thousands of critic updates on the toy MLPs, minutes of
CPU): those tests are marked `reproduction` and run with `python -m pytest -m reproduction`,
not in the unit suite (docs/tests.md). The rest here check the scripts' own arithmetic and a
short run of each command.
"""
import importlib
import json
import pathlib
import types

import numpy as np
import pytest

from tests.helpers import REPO, run_in_process, run_python, snapshot, trained_run

FIGURES = REPO / "docs" / "figures"


def run_figure(script, tmp_path, *args, in_process=False):
    """python figures/SCRIPT.py ARGS --output_dir=TMP_PATH, in a subprocess or (in_process) in this one."""
    argv = [f"figures/{script}.py", *args, f"--output_dir={tmp_path}"]
    result = run_in_process(argv) if in_process else run_python(argv, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def claims(tmp_path, name):
    assert (tmp_path / f"{name}.png").stat().st_size > 0
    return json.loads((tmp_path / f"{name}.json").read_text())


@pytest.mark.reproduction
def test_penalized_critic_peaks_at_the_modes_and_the_clipped_one_is_nearly_quadratic(tmp_path):
    run_figure("critic_surfaces", tmp_path, "--quick")
    numbers = claims(tmp_path, "critic_surfaces_quick")
    penalty, clipping = numbers["8gaussians/gradient penalty"], numbers["8gaussians/weight clipping"]
    assert int(penalty["modes_at_local_maxima"].split("/")[0]) >= 7
    assert int(clipping["modes_at_local_maxima"].split("/")[0]) <= 2
    # The clipped critic is the simpler surface: closer to a quadratic than the penalized one.
    assert clipping["quadratic_r2"] > max(0.8, penalty["quadratic_r2"])


def test_a_mode_counts_as_a_local_maximum_only_when_d_peaks_there():
    from figures import critic_surfaces
    from toy import data

    centres = data.centres("8gaussians")

    def bumps(at):  # a Gaussian bump of width 0.1 on each of the modes in `at`
        def critic(points):
            return sum(np.exp(-np.sum((points - centre) ** 2, axis=1) / 0.02) for centre in at)[:, None]
        return critic

    assert critic_surfaces.modes_at_local_maxima(bumps(centres), centres) == 8
    assert critic_surfaces.modes_at_local_maxima(bumps(centres[::2]), centres) == 4
    # A bowl peaks at the origin only; a plane rises through every mode without peaking.
    assert critic_surfaces.modes_at_local_maxima(lambda p: -np.sum(p**2, axis=1), centres) == 0
    assert critic_surfaces.modes_at_local_maxima(lambda p: p[:, 0] + 2 * p[:, 1], centres) == 0


def test_the_quadratic_fit_is_exact_on_a_quadratic_and_poor_on_peaks():
    from figures import critic_surfaces

    side = np.linspace(-critic_surfaces.GRID_RANGE, critic_surfaces.GRID_RANGE, critic_surfaces.GRID_SIZE)
    x, y = np.meshgrid(side, side)
    assert critic_surfaces.quadratic_r2(3 - x * x + 0.5 * x * y - 2 * y + 0.1 * y * y) == pytest.approx(1.0, abs=1e-9)
    # Sharp peaks at (+-1, +-1), like the penalized critic's: a quadratic explains little of them.
    peaks = sum(np.exp(-((x - a) ** 2 + (y - b) ** 2) / 0.05) for a in (-1, 1) for b in (-1, 1))
    assert critic_surfaces.quadratic_r2(peaks) < 0.2


def test_gradient_norm_ratio_and_weights_at_the_clipping_bound():
    from figures import gradient_norms

    weights = np.concatenate([np.full(90, 0.01), np.full(5, -0.01), np.linspace(-0.005, 0.005, 5)])
    numbers = gradient_norms.summarize(np.array([1e-4, 1e-2, 1.0]), weights)
    assert numbers == {"log10_norm_layer1_over_layer12": -4.0, "weights_within_2pct_of_largest": 0.95}
    # A norm that underflowed to 0 counts as float32's smallest, 1e-45.
    assert gradient_norms.summarize(np.array([0.0, 10.0]), weights)["log10_norm_layer1_over_layer12"] == -46.0


def test_toy_training_panels_report_their_own_runs(tmp_path, monkeypatch, capsys):
    import sys

    from figures import toy_training

    monkeypatch.setattr(sys, "argv", ["toy_training.py", "--variants", "wgan", "wgan_gp", "--datasets", "8gaussians",
                                      "--train_steps=2", f"--runs_dir={tmp_path / 'runs'}", f"--output_dir={tmp_path}"])
    toy_training.main()
    numbers = claims(tmp_path, "toy_training-wgan-wgan_gp-8gaussians-2")
    assert numbers["train_steps"] == 2
    for variant in ("wgan", "wgan_gp"):
        result = json.loads((tmp_path / "runs" / f"{variant}-8gaussians-2-seed0" / "result.json").read_text())
        assert numbers[f"{variant}/8gaussians"]["modes_covered"] == f"{result['modes_covered']}/8"
        assert numbers[f"{variant}/8gaussians"]["sliced_wasserstein"] == round(result["sliced_wasserstein"], 3)


@pytest.mark.reproduction
def test_clipping_makes_deep_critic_gradients_vanish_and_piles_weights_at_c(tmp_path):
    run_figure("gradient_norms", tmp_path, "--quick")
    numbers = claims(tmp_path, "gradient_norms_quick")
    assert numbers["clipping c=0.001"]["log10_norm_layer1_over_layer12"] < -3
    assert numbers["clipping c=0.01"]["log10_norm_layer1_over_layer12"] < -1
    assert abs(numbers["gradient penalty"]["log10_norm_layer1_over_layer12"]) < 1
    assert numbers["clipping c=0.01"]["weights_within_2pct_of_largest"] > 0.5
    assert numbers["gradient penalty"]["weights_within_2pct_of_largest"] < 0.05


@pytest.mark.reproduction
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
    logdir = trained_run("dcgan", tmp_path / "run", "--train_steps=2", *["--conditional"] * conditional)
    # The command as a user types it once; the conditional walk runs it in this process, without
    # --output_dir: the figure goes into the run it shows, never over the repository's docs/figures.
    if conditional:
        before = snapshot(FIGURES)
        result = run_in_process(["figures/latent_walks.py", f"--logdir={logdir}"])
        assert result.returncode == 0, result.stderr[-3000:]
        assert snapshot(FIGURES) == before
        output = logdir / "figures"
    else:
        run_figure("latent_walks", tmp_path, f"--logdir={logdir}")
        output = tmp_path
    numbers = claims(output, "latent_walks")
    assert numbers["checkpoint"].endswith("ckpt-2")
    # Linear steps through a continuous G: the images move along each walk (a generator that
    # ignored z would give 0 here), and no step is far larger than the others.
    assert numbers["mean_step_pixel_distance"] > 0.001
    assert 1.0 < numbers["largest_over_mean_step"] < 3.0


def test_latent_walks_of_no_run_is_one_line_and_exit_status_2(tmp_path):
    (tmp_path / "file").write_text("not a run")
    for logdir in (tmp_path / "missing", tmp_path / "file"):
        result = run_in_process(["figures/latent_walks.py", f"--logdir={logdir}"])
        assert (result.returncode, result.stderr.count("\n")) == (2, 1), result.stderr
        assert result.stderr.startswith(f"error: {logdir} is not a run directory"), result.stderr


def test_training_curves_median_filter_and_rank_correlation():
    from figures import training_curves

    spike = np.array([1.0, 1.0, 9.0, 1.0, 1.0, 2.0, 2.0])
    np.testing.assert_array_equal(training_curves.median_filter(spike, window=3), [1, 1, 1, 1, 1, 2, 2])
    rising = np.array([0.1, 0.5, 0.2, 3.0, 7.0])
    assert training_curves.spearman(rising, rising**3) == pytest.approx(1.0)  # any increasing map
    assert training_curves.spearman(rising, -rising) == pytest.approx(-1.0)
    assert training_curves.spearman(rising, np.array([3.0, 1.0, 5.0, 2.0, 4.0])) == pytest.approx(-0.1)


def test_training_curves_count_training_time_from_the_logged_rates():
    from figures import training_curves

    rows = [{"step": "5", "perf/steps_per_sec": "1.0", "loss/discriminator": "2.0", "eval/classifier_fd": ""},
            {"step": "10", "perf/steps_per_sec": "2.5", "loss/discriminator": "-1.0", "eval/classifier_fd": "30"}]
    curve = training_curves.curves(rows)
    np.testing.assert_allclose(curve["seconds"], [5.0, 7.0])  # 5 steps at 1/s, then 5 at 2.5/s
    np.testing.assert_array_equal(curve["minus_loss"], [-2.0, 1.0])
    assert curve["evaluated"].tolist() == [False, True] and curve["quality"][1] == 30.0


def test_training_curves_correlate_loss_and_quality_from_the_critics_peak_on():
    from figures import training_curves

    steps = np.arange(5, 105, 5)
    minus_loss = np.concatenate([np.linspace(0, 1, 8), np.linspace(0.95, 0.3, 12)])  # climbs, then falls
    quality = np.full(len(steps), np.nan)
    quality[1::2] = 200.0 - steps[1::2]  # improves throughout
    curve = {"steps": steps, "rates": np.full(len(steps), 2.0), "seconds": steps / 2.0, "minus_loss": minus_loss,
             "evaluated": ~np.isnan(quality), "quality": quality}
    numbers = training_curves.summarize(curve)
    assert 30 <= numbers["minus_loss_peak_iteration"] <= 45  # the filter blunts the peak at 40
    assert numbers["spearman_after_peak"] > 0.95  # the loss falls as the distance falls
    assert -0.5 < numbers["spearman_minus_loss_vs_fd"] < 0.5  # the climb spoils it over the whole run
    assert (numbers["classifier_fd_first_eval"], numbers["classifier_fd_last_eval"]) == (190.0, 100.0)
    assert numbers["training_seconds"] == numbers["seconds_at_median_rate"] == 50.0


def test_training_curves_check_each_claim_from_the_numbers():
    from figures import training_curves

    def numbers(last_fd, after_peak, whole=0.9):
        return {"classifier_fd_last_eval": last_fd, "spearman_after_peak": after_peak, "spearman_minus_loss_vs_fd": whole}

    runs = {"weight clipping (RMSProp)": numbers(180, 0.99), "gradient penalty (RMSProp)": numbers(40, 0.98),
            "gradient penalty (Adam)": numbers(20, 0.98), "DCGAN": numbers(19, 0.9, whole=0.92)}
    assert training_curves.check_claims(runs) == {
        "wgan_critic_loss_tracks_quality": True, "dcgan_loss_does_not_track_quality": False,
        "penalty_beats_clipping": True}
    runs["gradient penalty (RMSProp)"] = numbers(200, None)  # worse than clipping; the critic never peaked
    runs["DCGAN"] = numbers(19, 0.1, whole=-0.2)
    assert training_curves.check_claims(runs) == {
        "wgan_critic_loss_tracks_quality": False, "dcgan_loss_does_not_track_quality": True,
        "penalty_beats_clipping": False}


@pytest.mark.usefixtures("stand_in_networks")
def test_training_curves_quick_mode_trains_all_four_settings_and_draws_both_figures(tmp_path):
    # The command starts as a user types it (its --help imports no TensorFlow); its quick mode
    # runs in this process, on stand-in networks (tests/helpers.py: small_networks): what is
    # checked is the script's machinery; the variants' runs with their own networks are tested
    # elsewhere.
    usage = run_python(["figures/training_curves.py", "--help"])
    assert usage.returncode == 0 and "--quick" in usage.stdout and usage.stderr == "", usage.stderr
    result = run_figure("training_curves", tmp_path, "--quick", f"--runs_dir={tmp_path / 'runs'}", in_process=True)
    assert "Warning" not in result.stderr, result.stderr[-2000:]  # (no rank correlation of one point)
    numbers = json.loads((tmp_path / "training_curves_quick.json").read_text())
    assert (tmp_path / "loss_vs_quality_quick.png").stat().st_size > 0
    assert (tmp_path / "quality_vs_time_quick.png").stat().st_size > 0
    settings = ["weight clipping (RMSProp)", "gradient penalty (RMSProp)", "gradient penalty (Adam)", "DCGAN"]
    assert list(numbers) == [*settings, "checks"]
    for name in settings:
        assert numbers[name]["iterations"] == 4 and numbers[name]["training_seconds"] > 0  # --quick's train_steps
        assert 0 < numbers[name]["classifier_fd_last_eval"] < 1000
        assert numbers[name]["spearman_minus_loss_vs_fd"] is None  # one evaluation: no correlation to give
    # The penalty run with RMSProp was trained with RMSProp at WGAN's step size.
    config = json.loads((tmp_path / "runs" / "quick" / "gradient_penalty_rmsprop" / "config.json").read_text())
    assert (config["optimizer"], config["learning_rate"], config["batch_size"]) == ("rmsprop", 5e-5, 16)
    # Every quick run scored 500 samples against a real floor of 500 (--eval_samples).
    assert config["eval_samples"] == 500 and result.stdout.count("real floor: 500 training images") == 4


@pytest.mark.reproduction
def test_toy_training_quick_mode_wgan_gp_ends_closest_to_the_data(tmp_path):
    run_figure("toy_training", tmp_path, "--quick", f"--runs_dir={tmp_path / 'runs'}")
    numbers = claims(tmp_path, "toy_training_quick")
    assert numbers["train_steps"] == 300
    distance = {variant: numbers[f"{variant}/8gaussians"]["sliced_wasserstein"] for variant in ("dcgan", "wgan", "wgan_gp")}
    # 300 iterations: no variant covers the modes yet (that takes many more), but the
    # penalized critic has pulled its samples nearest to the data (0.30 against 0.37 and 0.38 here).
    assert distance["wgan_gp"] < min(distance["dcgan"], distance["wgan"])
    # Each panel reports its own run's numbers (the runs are shared with toy/compare.py).
    for variant in distance:
        result = json.loads((tmp_path / "runs" / f"{variant}-8gaussians-300-seed0" / "result.json").read_text())
        assert numbers[f"{variant}/8gaussians"]["modes_covered"] == f"{result['modes_covered']}/8"
        assert distance[variant] == round(result["sliced_wasserstein"], 3)


def test_time_to_quality_stops_at_the_first_evaluation_under_the_target_and_times_only_training(tmp_path):
    import csv
    import importlib.util

    spec = importlib.util.spec_from_file_location("time_to_quality", "scripts/time_to_quality.py")
    time_to_quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(time_to_quality)
    fields = ["step", "perf/steps_per_sec", "loss/discriminator", "eval/classifier_fd"]
    lines = [["10", "2.0", "1.0", ""], ["20", "5.0", "1.0", "80"], ["30", "1.0", "1.0", "40"],
             ["40", "1.0", "1.0", "30"]]
    with open(tmp_path / "metrics.csv", "w", newline="") as f:
        csv.writer(f).writerows([fields, *lines])
        f.write("50,1.0,1.0,4")  # a line still being written: its FD, 4 so far, reads as a number
    rows = time_to_quality.read_rows(tmp_path)
    assert [row["step"] for row in rows] == ["10", "20", "30", "40"]
    # 10 iterations at 2/s, 10 at 5/s, 10 at 1/s: the first FD at or under 50 is at 30, after 17 s.
    assert time_to_quality.reached(rows, 50.0) == (30, 40.0, pytest.approx(17.0))
    assert time_to_quality.reached(rows, 80.0) == (20, 80.0, pytest.approx(7.0))
    assert time_to_quality.reached(rows, 10.0) is None and time_to_quality.reached([], 50.0) is None


def test_training_curves_refuse_a_run_whose_last_row_is_cut_short(tmp_path, monkeypatch, capsys):
    # Its last FD, 421.76 cut to "42", went into the figure's claims as if whole.
    from figures import toolkit, training_curves

    schedule = {"train_steps": 4, "eval_every": 4, "log_every": 2}
    # The run is there already (train() resumes nothing: it is finished); what is read of it is tested.
    monkeypatch.setattr(toolkit, "variant_module", lambda name: types.SimpleNamespace(train=lambda config: None))
    monkeypatch.setattr(toolkit, "default_config", lambda module, **settings: settings)
    logdir = tmp_path / "dcgan"
    logdir.mkdir()
    (logdir / "metrics.csv").write_text("step,wall_time,perf/steps_per_sec,loss/discriminator,eval/classifier_fd\r\n"
                                        "2,1.0,2.0,1.5,\r\n4,2.0,2.0,1.2,42")
    with pytest.raises(SystemExit) as exit_status:
        training_curves.train("DCGAN", schedule, tmp_path)
    assert exit_status.value.code == 2
    assert capsys.readouterr().err == (f"error: {logdir / 'metrics.csv'} has no whole row for generator iteration 4 "
                                       f"(cut short?); delete {logdir} to train this setting again\n")
    with open(logdir / "metrics.csv", "a") as f:
        f.write(".76\r\n")  # the row whole
    assert [row["eval/classifier_fd"] for row in training_curves.train("DCGAN", schedule, tmp_path)] == ["", "42.76"]


FIGURE_OUTPUTS = {  # script: (arguments, the files it writes into its output folder)
    "gan_1d": (["--quick"], ["gan_1d_quick.png", "gan_1d_quick.json"]),
    "critic_surfaces": (["--quick"], ["critic_surfaces_quick.png", "critic_surfaces_quick.json"]),
    "discriminator_vs_critic": (["--quick"], ["discriminator_vs_critic_quick.png",
                                              "discriminator_vs_critic_quick.json"]),
    "gradient_norms": (["--quick"], ["gradient_norms_quick.png", "gradient_norms_quick.json"]),
    "toy_training": (["--quick"], ["toy_training_quick.png", "toy_training_quick.json"]),
    "training_curves": (["--quick", "--runs_dir=RUNS"], ["loss_vs_quality_quick.png", "quality_vs_time_quick.png",
                                                         "training_curves_quick.json"]),
    "latent_walks": (["--logdir=RUNS"], ["latent_walks.png", "latent_walks.json"]),
}


@pytest.mark.parametrize("script", FIGURE_OUTPUTS)
def test_a_figure_script_refuses_a_folder_in_the_way_of_any_of_its_files_before_any_work(script, tmp_path):
    # latent_walks wrote its picture, said so, and then failed at its numbers' file.
    arguments, names = FIGURE_OUTPUTS[script]
    for blocked in names:
        output = tmp_path / blocked.replace(".", "_")
        (output / blocked).mkdir(parents=True)
        argv = [argument.replace("RUNS", str(tmp_path / "runs")) for argument in arguments]
        result = run_in_process([f"figures/{script}.py", *argv, f"--output_dir={output}"])
        assert result.returncode == 2, result.stderr[-2000:]
        kind = blocked.rsplit(".")[-1].upper()
        assert result.stderr.strip().splitlines()[-1] == (
            f"error: {output / blocked} is a folder, where this script writes its {kind} file")
        assert [path.name for path in output.iterdir()] == [blocked] and not (tmp_path / "runs").exists()


def test_quick_figures_go_to_a_scratch_folder_never_over_the_committed_ones():
    from figures import toolkit

    assert toolkit.output_folder(None, quick=False) == toolkit.FIGURES
    scratch = toolkit.output_folder(None, quick=True)
    assert toolkit.FIGURES not in (scratch, *scratch.parents) and scratch.relative_to(toolkit.REPO).parts[0] == "build"
    assert toolkit.output_folder("/tmp/x", quick=True) == pathlib.Path("/tmp/x")
