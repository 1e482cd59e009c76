"""What a run prints and logs: scalars to TensorBoard and metrics.csv, and the progress line (tqdm)."""
import csv
import os
import pathlib
import shutil
import sys
import time

from tqdm import tqdm

from arguments import finished_csv_rows, written_whole

METRICS_FILE = "metrics.csv"
PROGRESS_KEYS = ("loss/discriminator", "loss/generator", "wasserstein_estimate")
UNKNOWN_WIDTH = 1000  # columns of a terminal that does not say its size: the whole line, losses included


def read_metrics(path):
    """(header, rows as dicts) of a metrics.csv, without a last row cut short (no line end:
    arguments.finished_csv_rows); None when there is no file or it is not text (ScalarLog keeps
    such a file aside)."""
    try:
        return finished_csv_rows(path)
    except (FileNotFoundError, UnicodeDecodeError, csv.Error):
        return None


def last_logged_step(logdir):
    """The last generator iteration that metrics.csv in `logdir` holds a row of, or None (no file, no row)."""
    _, rows = read_metrics(pathlib.Path(logdir) / METRICS_FILE) or (None, [])
    return max((int(row["step"]) for row in rows if (row.get("step") or "").isdigit()), default=None)


def has_evaluations(logdir):
    """Whether metrics.csv in `logdir` holds a value in an eval/ column (the run has evaluated)."""
    _, rows = read_metrics(pathlib.Path(logdir) / METRICS_FILE) or (None, [])
    return any(value for row in rows for key, value in row.items() if isinstance(key, str) and key.startswith("eval/"))


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
        # A run killed between two checkpoints logged steps that it will now redo; a write cut
        # short (a full disk, a kill) leaves a last row with fewer values than the header, which
        # goes too. A file with no row (empty, or a header alone, maybe cut) starts afresh; one
        # whose rows are longer than its header (a cut header) is kept aside, never overwritten.
        self._fields, rows = read_metrics(self._csv_path) or (None, None)
        if rows == []:
            self._fields = None
            self._csv_path.unlink()
        elif rows is None or any(None in row for row in rows) or self._fields[:2] != ["step", "wall_time"]:
            damaged = self._csv_path.with_name(self._csv_path.name + ".damaged")
            os.replace(self._csv_path, damaged)
            self._fields = None
            what = " is not text" if rows is None else "'s header is damaged"
            print(f"warning: {self._csv_path}{what}; kept it as {damaged.name}, and the log starts "
                  f"again at generator iteration {step + 1}", file=sys.stderr)
        else:
            self._rewrite([row for row in rows
                           if None not in row.values() and row["step"].isdigit() and int(row["step"]) <= step])

    def _rewrite(self, rows):
        """Rewrites metrics.csv with the current columns and these rows (dicts), atomically."""
        with written_whole(self._csv_path) as partial, open(partial, "w", newline="") as f:
            writer = csv.DictWriter(f, self._fields)
            writer.writeheader()
            writer.writerows(rows)

    def scalars(self, step, values):
        values = {key: float(value) for key, value in values.items()}
        with self._writer.as_default(step=step):
            for key, value in values.items():
                self._tf.summary.scalar(key, value)
        try:
            if self._fields is None:
                self._fields = ["step", "wall_time"] + sorted(values)
                with open(self._csv_path, "w", newline="") as f:
                    csv.DictWriter(f, self._fields).writeheader()
            elif not set(values) <= set(self._fields):  # new columns (the first evaluation): widen the file
                self._fields = self._fields + sorted(set(values) - set(self._fields))
                self._rewrite(read_metrics(self._csv_path)[1])
            with open(self._csv_path, "a", newline="") as f:
                row = {"step": step, "wall_time": f"{time.time():.3f}", **values}
                csv.DictWriter(f, self._fields, extrasaction="ignore").writerow(row)
        except OSError as error:  # a full disk, say (a resume drops the row it cut short): named
            error.filename = error.filename or str(self._csv_path)
            raise

    def image(self, step, tag, image_uint8):
        with self._writer.as_default(step=step):
            self._tf.summary.image(tag, image_uint8[None], max_outputs=1)

    def flush(self):
        self._writer.flush()


class Progress:
    """Generator iterations done, elapsed time, rate, time left, and the latest losses, by tqdm.

    One line in one format wherever the output goes:
        step 1200/200000  0%|          | 05:31<15:15:32,  3.62it/s, loss/discriminator -1.21 ...
    On a terminal a tqdm bar redraws it in place (at most 4 times a second); in a log file or
    a pipe, which cannot redraw, tqdm's formatter writes it as a line of its own every `every`
    iterations. The rate and the time left are averages over this session's iterations (from
    `start`), so the first one's tf.function tracing weighs less and less.
    """

    FORMAT = "step {n}/{total} {percentage:3.0f}%|{bar:10}| {elapsed}<{remaining}, {rate_fmt}{postfix}"
    REDRAW_SECONDS = 0.25  # a terminal's bar at most this often, so that the values are read rarely

    def __init__(self, start, total, every, stream=None):
        # sys.stdout as it is now, not as it was at import: a later redirect is honoured.
        self.start, self.total, self.every, self.stream = start, total, every, stream or sys.stdout
        self.interactive = self.stream.isatty()
        self._began = self._shown = time.perf_counter()
        self._bar = None  # the terminal's tqdm bar, made at the first update (a worker never shows one)

    def update(self, step, values):
        """Shows generator iteration `step`; reads `values` (device tensors, maybe) only when it prints."""
        now = time.perf_counter()

        def numbers():
            return "  ".join(f"{key} {float(value):.4g}" for key, value in values.items() if key in PROGRESS_KEYS)

        if self.interactive and (now - self._shown > self.REDRAW_SECONDS or step == self.total):
            if self._bar is None:
                # The size from shutil ($COLUMNS, or the terminal's). A terminal that reports 0 x 0 (some
                # ptys), where tqdm would draw nothing, gets a line cut nowhere: 80 columns cut the losses.
                columns, lines = shutil.get_terminal_size((0, 0))
                self._bar = _Bar(total=self.total, initial=self.start, file=self.stream, bar_format=self.FORMAT,
                                 ascii=True, ncols=columns or UNKNOWN_WIDTH, nrows=lines or 24, smoothing=0,
                                 mininterval=0)
                self._bar.start_t -= now - self._began  # the clock started with the run, not with the bar
            self._bar.n = step
            self._bar.set_postfix_str(numbers(), refresh=False)
            self._bar.refresh()
            self._shown = now
            if step == self.total:
                self.close()
        elif not self.interactive and (step % self.every == 0 or step == self.total):
            line = tqdm.format_meter(step, self.total, now - self._began, initial=self.start, ascii=True,
                                     bar_format=self.FORMAT, postfix=numbers())
            self.stream.write(line + "\n")
            self.stream.flush()

    def message(self, text):
        """Prints a line without garbling the progress bar."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self):
        """Leaves the bar as it last was, on a line of its own."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class _Bar(tqdm):
    """A tqdm bar without tqdm's monitor thread: Progress decides when to redraw."""

    monitor_interval = 0
