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


def import_tensorflow_quietly():
    """Imports TensorFlow and lists its devices, leaving out ROUTINE_LINES (see the module docstring)."""
    # TensorFlow's INFO and WARNING lines, once it has read this, unless the user chose a level.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] in ("0", "1"):
        return  # too late to filter, or the user asked to see the INFO or WARNING lines
    routine = ROUTINE_LINES if nvidia_driver_present() else (*ROUTINE_LINES, NO_DRIVER_LINE)
    with native_stderr_without(routine):
        import tensorflow as tf

        tf.config.list_physical_devices()  # looks for a GPU (cuInit), as the first TensorFlow work would
