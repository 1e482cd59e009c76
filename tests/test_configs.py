"""The papers' runs as flagfiles: each parses with its variant's own flags and trains two steps."""
import numpy as np
import pytest
from PIL import Image

from tests.helpers import REPO, metrics_rows, parse, train_module

CONFIGS = {  # flagfile: (variant, image side, settings the flagfile must set)
    "wgan_gp_cifar10.cfg": ("wgan_gp", 32, {"dataset": "cifar10", "batch_size": 64, "beta1": 0.5,
                                            "train_steps": 200_000, "eval_every": 1000}),
    "wgan_gp_64x64.cfg": ("wgan_gp", 64, {"critic_norm": "layer", "batch_size": 64, "beta1": 0.5}),
    "dcgan_64x64.cfg": ("dcgan", 64, {"batch_size": 128, "learning_rate": 2e-4, "n_critic": 1}),
    "wgan_64x64.cfg": ("wgan", 64, {"official_critic_schedule": True, "clip_value": 0.01, "batch_size": 64}),
}


def test_every_flagfile_is_smoke_tested():
    assert sorted(path.name for path in (REPO / "configs").glob("*.cfg")) == sorted(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_a_papers_run_trains_two_steps_at_a_tiny_batch(name, tmp_path):
    variant, size, expected = CONFIGS[name]
    flagfile = f"--flagfile={REPO / 'configs' / name}"
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(8):
        Image.fromarray(rng.integers(0, 256, (size + 8, size, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    dataset = [] if "dataset" in expected else [f"--dataset=folder:{folder}"]
    config = parse(variant, [flagfile, *dataset])
    assert {key: config[key] for key in expected} == expected
    # The same run, two iterations at batch 8 on the generated folder (and without the WGAN
    # code's 100-update bursts, which would make this 200 critic updates).
    tiny = [f"--dataset=folder:{folder}", f"--image_size={size}", "--batch_size=8", "--train_steps=2",
            "--eval_every=0", "--log_every=1", f"--logdir={tmp_path / 'run'}"]
    if variant == "wgan":
        tiny.append("--noofficial_critic_schedule")
    config = parse(variant, [flagfile, *tiny])
    train_module(variant).train(config)
    assert [int(row["step"]) for row in metrics_rows(tmp_path / "run")] == [1, 2]
