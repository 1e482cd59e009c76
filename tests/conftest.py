"""Test-session set-up: two logical CPU devices (tf.distribute tests run in-process), a fresh cache.

TensorFlow fixes its devices when it first runs an op, so this happens here, before any
test module imports a variant. Each test still runs on one device unless it asks for a
MirroredStrategy over both.
"""
import os
import tempfile

import pytest

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # the tests pin CPU numerics
# One fresh cache for the session (the shared runs, classifiers that a test trains),
# shared by both test workers (they inherit the controller's environment) and the commands the
# tests start, and never the user's own ~/.cache. The process that made it removes it at the end.
_MADE_CACHE = None
if "GAN_TESTS_CACHE" not in os.environ:
    _MADE_CACHE = os.environ["GAN_TESTS_CACHE"] = tempfile.mkdtemp(prefix="gan-tests-cache-")
os.environ["XDG_CACHE_HOME"] = os.environ["GAN_TESTS_CACHE"]


def pytest_configure(config):
    """Two logical CPU devices in every process that runs tests. pytest-xdist's controller
    (-n 2) only hands tests to its workers, and skips TensorFlow's start (~3 CPU-s)."""
    is_controller = not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", 0))
    if is_controller:
        return
    import common  # noqa: F401  (quiets TensorFlow's start-up logging)
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


# The test modules by their time, the longest first (measured with the whole suite on the
# 2-core machine, docs/tests.md). pytest.ini has pytest-xdist hand whole modules to the two
# workers in collection order (--dist loadfile --no-loadscope-reorder), so the modules that
# start last are short ones and the workers finish together: with pytest-xdist's own order,
# by the number of tests, the one-test notebook module came last and one worker ran on alone
# for half a minute. A module not listed runs after these.
LONGEST_FIRST = (
    "test_devices", "test_train", "test_training_run", "test_finite_runs", "test_figures", "test_networks",
    "test_export", "test_configs", "test_evaluate", "test_notebook", "test_pages", "test_toy", "test_data",
    "test_folders", "test_random", "test_docs", "test_steps", "test_runs", "test_metrics", "test_side_by_side",
    "test_losses",
)


def pytest_collection_modifyitems(config, items):
    """In a pytest-xdist worker, the modules in LONGEST_FIRST's order, each module's tests in
    their own order (in one process, -n 0, they run in the order asked for)."""
    if not hasattr(config, "workerinput"):
        return
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))


def pytest_unconfigure(config):
    """The session's cache goes with the session (the shared runs, some hundreds of MB).

    And the process leaves its objects to the operating system: a test worker ends holding
    about a million (most of them graphs, which tf.custom_gradient's global gradient registry
    keeps alive), and the interpreter's last garbage collection over them took 7 s of the
    suite's wall time here, with the other worker done and waiting. Frozen objects are
    never collected (gc.freeze).
    """
    if _MADE_CACHE:
        import shutil

        shutil.rmtree(_MADE_CACHE, ignore_errors=True)
    import gc

    gc.freeze()


@pytest.fixture
def stand_in_networks():
    """Every variant trains tests/helpers.py's small_generator and small_discriminator in the
    test: for tests of what a run does around its networks (about a fifth of the CPU time)."""
    from tests.helpers import small_networks

    with small_networks():
        yield


@pytest.fixture(autouse=True)
def float32_after_each_test():
    """A run with --mixed_precision sets Keras' global policy; the next test starts from float32."""
    yield
    import keras

    keras.mixed_precision.set_global_policy("float32")
