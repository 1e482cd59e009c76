"""Test-session set-up: two logical CPU devices (tf.distribute tests run in-process), a fresh cache.

TensorFlow fixes its devices when it first runs an op, so this happens here, before any
test module imports a variant. Each test still runs on one device unless it asks for a
MirroredStrategy over both.
"""
import os
import tempfile

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # the tests pin CPU numerics
# One fresh cache for the session (the digit classifier trains once, ~20 s), shared by both
# test workers (they inherit the controller's environment) and the commands the tests start,
# and never the user's own ~/.cache.
os.environ.setdefault("GAN_TESTS_CACHE", tempfile.mkdtemp(prefix="gan-tests-cache-"))
os.environ["XDG_CACHE_HOME"] = os.environ["GAN_TESTS_CACHE"]

import common  # noqa: E402,F401  (quiets TensorFlow's start-up logging)
import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def float32_after_each_test():
    """A run with --mixed_precision sets Keras' global policy; the next test starts from float32."""
    yield
    keras.mixed_precision.set_global_policy("float32")
