"""What a run prints and logs: scalars to TensorBoard and metrics.csv, and the progress line."""
import csv
import os
import pathlib
import sys
import time

METRICS_FILE = "metrics.csv"
PROGRESS_KEYS = ("loss/discriminator", "loss/generator", "wasserstein_estimate")


class ScalarLog:
    """Writes the same scalars to TensorBoard and to metrics.csv."""

    def __init__(self, logdir, resume_step):
        import tensorflow as tf

        self._tf = tf
        self._writer = tf.summary.create_file_writer(str(logdir))
        self._csv_path = pathlib.Path(logdir) / METRICS_FILE
        self._fields = None
        if self._csv_path.is_file():
            self._drop_rows_after(resume_step)

    def _drop_rows_after(self, step):
        # A run killed between two checkpoints logged steps that it will now redo.
        with open(self._csv_path, newline="") as f:
            self._fields = csv.DictReader(f).fieldnames
        self._rewrite(lambda row: int(row["step"]) <= step)

    def _rewrite(self, keep):
        """Rewrites metrics.csv with the current columns, keeping the rows for which keep(row)."""
        with open(self._csv_path, newline="") as f:
            rows = [row for row in csv.DictReader(f) if keep(row)]
        partial = self._csv_path.with_name(self._csv_path.name + ".partial")
        with open(partial, "w", newline="") as f:
            writer = csv.DictWriter(f, self._fields)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(partial, self._csv_path)

    def scalars(self, step, values):
        values = {key: float(value) for key, value in values.items()}
        with self._writer.as_default(step=step):
            for key, value in values.items():
                self._tf.summary.scalar(key, value)
        if self._fields is None:
            self._fields = ["step", "wall_time"] + sorted(values)
            with open(self._csv_path, "w", newline="") as f:
                csv.DictWriter(f, self._fields).writeheader()
        elif not set(values) <= set(self._fields):  # new columns (the first evaluation): widen the file
            self._fields = self._fields + sorted(set(values) - set(self._fields))
            self._rewrite(lambda row: True)
        with open(self._csv_path, "a", newline="") as f:
            row = {"step": step, "wall_time": f"{time.time():.3f}", **values}
            csv.DictWriter(f, self._fields, extrasaction="ignore").writerow(row)

    def image(self, step, tag, image_uint8):
        with self._writer.as_default(step=step):
            self._tf.summary.image(tag, image_uint8[None], max_outputs=1)

    def flush(self):
        self._writer.flush()


class Progress:
    """A one-line progress bar on a terminal; a plain log line every `every` steps otherwise."""

    def __init__(self, start, total, every, stream=None):
        # sys.stdout as it is now, not as it was at import: a later redirect is honoured.
        self.start, self.total, self.every, self.stream = start, total, every, stream or sys.stdout
        self.interactive = self.stream.isatty()
        self._began = self._shown = time.perf_counter()

    def rate(self, step):
        elapsed = time.perf_counter() - self._began
        return (step - self.start) / elapsed if elapsed > 0 else 0.0

    def update(self, step, values):
        """Shows generator iteration `step`; reads `values` (device tensors, maybe) only when it prints."""
        now = time.perf_counter()

        def numbers():
            return "  ".join(f"{key} {float(value):.4g}" for key, value in values.items() if key in PROGRESS_KEYS)

        if self.interactive and (now - self._shown > 0.25 or step == self.total):
            done = int(30 * step / self.total)
            bar = "#" * done + "." * (30 - done)
            self.stream.write(f"\r[{bar}] {step}/{self.total}  {self.rate(step):.2f} it/s  {numbers()}\x1b[K")
            self.stream.flush()
            self._shown = now
        elif not self.interactive and (step % self.every == 0 or step == self.total):
            self.stream.write(f"step {step}/{self.total}  {self.rate(step):.2f} it/s  {numbers()}\n")
            self.stream.flush()

    def message(self, text):
        """Prints a line without garbling the progress bar."""
        self.stream.write(("\n" if self.interactive else "") + text + "\n")
        self.stream.flush()

