"""An exported generator works with no code of this repository and draws what common.generate draws."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from common import sampling
from tests.helpers import run_python, train_in_process

# Runs in a fresh Python whose working directory and path hold nothing of this repository.
LOADER = """
import json, sys
import numpy as np
import keras, tensorflow as tf
folder, inputs_path, results_path = sys.argv[1:4]
with np.load(inputs_path) as archive:
    inputs = {key: archive[key] for key in archive.files}
model = keras.models.load_model(f"{folder}/generator.keras")
images = model([inputs["noise"], inputs["labels"]] if "labels" in inputs else inputs["noise"], training=False)
from_keras = np.clip(np.rint((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)
serve = tf.saved_model.load(f"{folder}/saved_model").signatures["serving_default"]
from_saved_model = serve(**{key: tf.constant(value) for key, value in inputs.items()})["images"].numpy()
np.savez(results_path, keras=from_keras, saved_model=from_saved_model)
ours = ("common", "dcgan", "wgan", "wgan_gp", "sngan", "wgan_r1", "toy", "figures")
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in ours)))
"""


@pytest.mark.parametrize("conditional", [False, True], ids=["command", "conditional-at-training-end"])
def test_an_exported_generator_loads_without_this_repository_and_matches_generate(tmp_path, conditional):
    logdir = tmp_path / "run"
    if conditional:  # train.py --export: written when training ends
        train_in_process("wgan_gp", logdir, "--train_steps=2", "--conditional", "--export")
    else:  # the command as a user types it, on a run trained without --export
        train_in_process("wgan_gp", logdir, "--train_steps=2")
        assert not (logdir / "export").exists()
        result = run_python(["-m", "common.export", f"--logdir={logdir}"])
        assert result.returncode == 0, result.stderr[-3000:]
    output = logdir / "export"
    described = json.loads((output / "export.json").read_text())
    assert described["latent_dim"] == 128 and described["image_shape"] == [28, 28, 1]
    assert described["num_classes"] == (10 if conditional else 0) and described["checkpoint"].endswith("ckpt-2")

    # What common.generate draws for seed 3: its noise, its labels, its uint8 images.
    generator, _, num_classes = sampling.load_generator(logdir)
    expected, labels = sampling.generate(generator, 12, seed=3, num_classes=num_classes)
    inputs = {"noise": np.random.default_rng(3).standard_normal((12, 128)).astype(np.float32)}
    if conditional:
        inputs["labels"] = labels
    np.savez(tmp_path / "inputs.npz", **inputs)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", LOADER, str(output), str(tmp_path / "inputs.npz"),
                           str(tmp_path / "results.npz")], cwd=outside, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []  # no module of this repository was loaded
    with np.load(tmp_path / "results.npz") as results:
        assert expected.dtype == np.uint8 and expected.std() > 0
        np.testing.assert_array_equal(results["keras"], expected)
        np.testing.assert_array_equal(results["saved_model"], expected)


def test_export_of_a_run_without_a_checkpoint_is_one_line(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps({"variant": "dcgan", "image_shape": [28, 28, 1]}))
    result = run_python(["-m", "common.export", f"--logdir={tmp_path / 'run'}"])
    assert result.returncode == 2 and "has no checkpoint yet" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run" / "export").exists()
