"""A quiet start: TensorFlow imported with its routine C++ start-up notes left out.

TensorFlow's C++ code writes to file descriptor 2 directly, before TF_CPP_MIN_LOG_LEVEL is
read and twice over (two libraries each carry a copy of the logging code), so neither that
variable nor sys.stderr can hide these lines. They are captured while TensorFlow is imported
and lists its devices, and written back to stderr, all but the lines below, which say that
nothing is wrong. Any other line comes through as it was, in its place among the others.
TF_CPP_MIN_LOG_LEVEL=0 or 1 (INFO or WARNING wanted) turns the filter off.
"""
import contextlib
import os
import shutil
import sys
import tempfile

ROUTINE_LINES = (  # the text that marks each line, as TensorFlow 2.21 prints it on Linux
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on. You may see slightly different numerical results",
    "Could not find cuda drivers on your machine, GPU will not be used.",
)
# Said when TensorFlow looks for a GPU on a machine with no NVIDIA driver: routine there,
# a real error where a driver is present (then it comes through, with devices.py's warning).
NO_DRIVER_LINE = "failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)"


def nvidia_driver_present():
    """True where an NVIDIA driver is installed (its /proc entry or nvidia-smi on PATH)."""
    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


@contextlib.contextmanager
def native_stderr_without(routine):
    """Inside, file descriptor 2 goes to a temporary file; at the end its lines go to stderr,
    except those that contain one of the strings in `routine`."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not any(text in line for text in routine)))
            sys.stderr.flush()


@contextlib.contextmanager
def not_importable(name):
    """Inside, `import NAME` fails with ImportError as if NAME were not installed (unless it was
    imported before); afterwards it imports as usual."""
    if name in sys.modules:
        yield
        return
    sys.modules[name] = None  # the import system's mark for "not importable"
    try:
        yield
    finally:
        if name in sys.modules and sys.modules[name] is None:
            del sys.modules[name]


class _PyplotAtFirstUse:
    """Stands for matplotlib.pyplot, which it imports when an attribute is first read."""

    def __getattr__(self, name):
        import matplotlib.pyplot

        return getattr(matplotlib.pyplot, name)


def _keras_plots_import_matplotlib_when_called():
    """Keras' image-gallery helpers, which found no matplotlib while it was hidden, import it when called."""
    gallery = sys.modules.get("keras.src.visualization.plot_image_gallery")
    if gallery is not None and getattr(gallery, "plt", False) is None:
        gallery.plt = _PyplotAtFirstUse()


def import_tensorflow_quietly():
    """Imports TensorFlow and lists its devices, leaving out ROUTINE_LINES (see the module docstring).

    Keras imports matplotlib.pyplot, where it can, for one plotting helper that this project
    never calls: matplotlib stays out of TensorFlow's import, which takes 0.5 CPU-seconds off the
    start of every command (3.4 -> 2.9, the median of 8, docs/tests.md); the figure scripts import
    it as usual, and Keras' helpers import it when they are called.
    """
    # TensorFlow's INFO and WARNING lines, once it has read this, unless the user chose a level.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return  # too late to filter
    routine = ROUTINE_LINES if nvidia_driver_present() else (*ROUTINE_LINES, NO_DRIVER_LINE)
    wanted = os.environ["TF_CPP_MIN_LOG_LEVEL"] in ("0", "1")  # the user asked to see INFO or WARNING lines
    filtered = contextlib.nullcontext() if wanted else native_stderr_without(routine)
    with filtered, not_importable("matplotlib"):
        import tensorflow as tf

        tf.config.list_physical_devices()  # looks for a GPU (cuInit), as the first TensorFlow work would
    _keras_plots_import_matplotlib_when_called()
