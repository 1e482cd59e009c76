"""The run directory: config.json, the resume check, and checkpoints.

A run directory (--logdir) holds
  config.json        the resolved flags and the data source
  metrics.csv        every logged scalar, one row per logged step (common/logs.py)
  events.out.*       the same scalars and the sample grids, for TensorBoard
  samples/           a PNG grid of G(fixed noise) every --sample_every steps and early on (with
                     --conditional, one row per class); latest.png is the newest
  checkpoints/       G, D, both optimizers and the step (the newest 3 are kept)
"""
import json
import logging
import os
import pathlib
import re
import sys

from arguments import directory_in_use, hold_directory, write_text_whole, written_whole
from common.cli import IMAGE_SIZES, UserError, first_line, normalized_dataset

CONFIG_FILE = "config.json"
# Flags that may change when a run is resumed: they say how long and how often,
# not what is trained (eval_samples only until the run evaluates: training_run.py).
RESUMABLE_KEYS = (
    "train_steps", "sample_every", "checkpoint_every", "log_every", "eval_every", "eval_samples",
    "inception_weights", "logdir", "data_dir", "strategy", "jit_compile", "cache_dir", "export",
    "data_source",  # where the data was read from; what it is, is data_identity's
    "evaluations_scored",  # how many images its evaluations scored (training_run.py checks it)
)


def check_logdir(config, defaults=None, retired_flags=None):
    """Checks that --logdir is empty, new, or holds a run made with the same settings.

    defaults: the variant's flags at their defaults, which a flag added after the run was
    made counts as having there. retired_flags: flags the variant no longer has, with the
    value its code now always uses (variants.py); a run saved with that value resumes, a
    run saved with another (wgan_gp's --loss=hinge, say) is refused.
    Returns True when there is a run to resume. Raises UserError when the existing
    run's config differs in anything but how long and how often, or when the
    folder holds something else. Writes nothing.
    """
    defaults, retired_flags = defaults or {}, retired_flags or {}
    logdir = pathlib.Path(config["logdir"])
    saved = recorded_run(config)
    resuming = saved is not None
    if resuming:
        # A flag added after the run was made counts as having its default value there.
        missing = [key for key in config if key not in saved]
        saved = {**{key: defaults[key] for key in missing if key in defaults}, **saved}
        retired = {key for key, value in retired_flags.items() if key not in config and saved.get(key) == value}
        # The same data under another name: a run that fell back to the bundled digits resumes
        # as --dataset=mnist or mnist_5k. A dataset of a fixed size (its image_shape compared)
        # ignores --image_size, which older runs recorded as the flag's 64.
        same = {"dataset"} if "data_source" in saved and data_identity(saved) == data_identity(config) else set()
        if not saved.get("dataset", "").startswith(("folder:", "tfds:")):
            same.add("image_size")
        changed = sorted(
            key for key in set(saved) | set(config)
            if key not in RESUMABLE_KEYS and key not in retired | same and saved.get(key) != config.get(key)
        )
        if "data_source" in saved and "data_source" in config and data_identity(saved) != data_identity(config):
            raise other_data(logdir, saved, data_identity(config), config["dataset"])
        if saved.get("dataset", "").startswith("folder:") and saved.get("data_source") != config.get("data_source"):
            print(f"warning: the folder changed since the run began ({saved.get('data_source')}; now "
                  f"{config.get('data_source')}): the data order from here on is not the one it started with",
                  file=sys.stderr)
        if changed:
            details = ", ".join(
                f"{key}: {saved.get(key)!r} -> {config[key]!r}" if key in config
                else f"{key}: {saved[key]!r} (not a flag of {config['variant']} now)"
                for key in changed
            )
            raise UserError(
                f"{logdir} holds a run with other settings ({details}); "
                "resume it with its own flags or choose a new --logdir"
            )
    elif logdir.exists() and any(logdir.iterdir()):
        raise UserError(f"{logdir} is not empty and holds no {CONFIG_FILE}; choose a new --logdir")
    return resuming


def recorded_run(config):
    """The settings of the run in --logdir (its config.json, the dataset's folder path resolved),
    or None where there is none yet. Raises UserError when that run is another variant's."""
    logdir = pathlib.Path(config["logdir"])
    if not (logdir / CONFIG_FILE).is_file():
        return None
    saved = parse_config(logdir / CONFIG_FILE)
    if "dataset" in saved:  # a run recorded before folder paths were resolved
        saved["dataset"] = normalized_dataset(saved["dataset"])
    if saved.get("variant", config["variant"]) != config["variant"]:
        raise UserError(
            f"{logdir} holds a {saved['variant']} run; resume it with {saved['variant']}/train.py "
            "or choose a new --logdir"
        )
    return saved


def check_recorded_data(config):
    """Refuses a run directory whose run trained on other data than --dataset names, before any
    data is loaded (a download, say); check_logdir checks the rest once the data is known.

    A run that fell back to the bundled digits (mnist_5k) resumes with --dataset=mnist, as
    common.data.load_training_data then gives it those digits again.
    """
    saved = recorded_run(config)
    if saved is None or "data_source" not in saved:  # a new run, or one recorded before data_source
        return
    recorded = data_identity(saved)
    wanted = recorded if (config["dataset"], recorded) == ("mnist", "mnist_5k") else config["dataset"]
    if wanted != recorded:
        raise other_data(config["logdir"], saved, wanted, config["dataset"])


def other_data(logdir, saved, wanted, asked):
    """The UserError for resuming the run in `logdir`, `saved` its config.json, on the data named
    `wanted`, which --dataset=`asked` gives."""
    if saved.get("dataset", "").startswith("folder:"):
        remedy = "use that folder"
    elif asked == saved.get("dataset"):  # the same name, other data: mnist offline gives mnist_5k
        remedy = "give it that data (--data_dir)"
    else:
        remedy = f"resume it with --dataset={saved.get('dataset')}"
    return UserError(f"{logdir} holds a run trained on {data_identity(saved)}, and this one would train on "
                     f"{wanted}; {remedy} or choose a new --logdir")


def data_identity(config):
    """What a run trains on: its --dataset, or mnist_5k where mnist fell back to the bundled digits.

    Where the files were read from (--data_dir, the download cache) is not part of it, so a
    run resumes from a moved copy of its data.
    """
    if config.get("data_source", "").startswith("mnist_5k"):
        return "mnist_5k"
    return config["dataset"]


def recorded_data_source(logdir):
    """The data_source of the run in `logdir`, or None where there is no run yet."""
    path = pathlib.Path(logdir) / CONFIG_FILE
    try:
        return parse_config(path).get("data_source") if path.is_file() else None
    except UserError:
        return None  # check_logdir reports a config.json that is unreadable or not a JSON object


class RunLock:
    """This process's claim on a run directory while it trains the run: an exclusive flock on
    the directory itself, which the system drops when the process ends, however it ends
    (a kill included), so no stale lock outlives a run.

    Two processes that train one run at once would interleave its checkpoints and logs, so
    the second is refused (UserError, one line). Where the file system cannot lock (some
    network file systems), the run goes on unlocked.
    """

    def __init__(self, logdir):
        try:
            self._fd = hold_directory(logdir)  # None: not a directory (yet), or no locks here
        except BlockingIOError:
            raise _in_use(logdir) from None
        self.path = logdir

    @staticmethod
    def refuse_if_held(logdir):
        """Raises UserError while another process holds `logdir`: a start asks before it reads
        its data (a folder's decoding, a download), and the lock itself is taken later."""
        if directory_in_use(logdir):
            raise _in_use(logdir)

    @property
    def held(self):
        return self._fd is not None

    def replaced(self):
        """True once the path no longer names the directory this lock holds (deleted, or
        deleted and made again by another process): what the run would write there next
        would land in someone else's run."""
        if self._fd is None:
            return False
        try:
            now = os.stat(self.path)
        except OSError:
            return True
        held = os.fstat(self._fd)
        return (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino)

    def release(self):
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def _in_use(logdir):
    return UserError(f"{logdir} is in use: another process is training this run; let it finish or stop it "
                     "(Ctrl-C), then run this command again, or choose another --logdir")


def write_json(path, value):
    """Writes JSON so that the file is replaced whole or not at all."""
    write_text_whole(path, json.dumps(value, indent=2, sort_keys=False) + "\n")


def read_config(logdir):
    if not str(logdir):  # not the current folder: an empty --logdir is a mistake (an unset shell variable)
        raise UserError("--logdir is empty; give a run directory")
    path = pathlib.Path(logdir) / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{logdir} is not a run directory (no {CONFIG_FILE})")
    return parse_config(path)


def parse_config(path):
    """A run's config.json as a dict; UserError (one line) when it is not a readable JSON object."""
    try:
        config = json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{path} is unreadable ({error}); use another --logdir") from None
    if not isinstance(config, dict):
        raise UserError(f"{path} does not hold a run's settings (a JSON object); use another --logdir")
    for key, recorded in RECORDED_VALUES.items():  # a hand edit, say
        if key in config and not recorded(config[key]):
            raise UserError(f"{path}: {key} is {config[key]!r}, which no run records; write back the run's own "
                            "value, or use another --logdir")
    return config


def _count(value, least=1):
    return type(value) is int and value >= least


# What the code reads from a saved config.json, beyond comparing it with the flags.
RECORDED_VALUES = {
    **{key: lambda value: isinstance(value, str) for key in ("variant", "dataset", "data_source")},
    "data_dir": lambda value: value is None or isinstance(value, str),
    "image_size": lambda value: _count(value) and value in IMAGE_SIZES,
    **{key: _count for key in ("checkpoint_every", "train_steps")},
    "num_classes": lambda value: _count(value, least=0),
    "image_shape": lambda value: (isinstance(value, list) and len(value) == 3 and all(map(_count, value))
                                  and value[0] == value[1] in IMAGE_SIZES and value[2] in (1, 3)),  # grey or colour
}


def restore_checkpoint(checkpoint, path):
    """checkpoint.restore(path), or UserError (one line) naming a checkpoint whose files are
    damaged (truncated, or bytes changed in place), so that the one before it can be used instead.

    Every tensor is read first, which checks each against its stored checksum (31 MB in about
    10 ms here): a damaged file then fails before anything is restored, not halfway, after
    which TensorFlow warns of the values left unrestored (five lines after the error's one).
    """
    import tensorflow as tf

    error = read_error(path)
    if error is not None:
        raise unreadable_checkpoint(path, error)
    try:
        return checkpoint.restore(path)
    except (tf.errors.OpError, IndexError, ValueError) as error:  # whole files, but not this run's networks
        logging.getLogger("tensorflow").addFilter(_without_unrestored_values_warnings)
        raise UserError(f"{path} does not fit this run ({first_line(error)}): it was saved by another variant "
                        "or with other settings; remove its files or use another --logdir") from None


def read_error(path):
    """None when every tensor of the checkpoint at `path` reads and matches its checksum, else the error."""
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(path))
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, IndexError, ValueError) as error:
        return error
    return None


def _without_unrestored_values_warnings(record):
    """False for TensorFlow's warnings about the values a failed restore left unrestored, one
    line for each (some 80 for another run's checkpoint), written as its objects are freed,
    after the command's own one line."""
    message = record.getMessage()
    return not message.startswith(("Value in checkpoint could not be found in the restored object",
                                   "Detecting that an object or model or tf.train.Checkpoint is being deleted"))


def unreadable_checkpoint(path, error):
    """The UserError for a checkpoint that cannot be read: what failed, and what to do (which
    files to remove to use the newest readable checkpoint before it, or that there is none)."""
    path, number = pathlib.Path(path), checkpoint_number(path)
    earlier = [pathlib.Path(other) for other in whole_checkpoints(path.parent.parent)
               if number is not None and checkpoint_number(other) < number]
    unreadable = [path]
    while earlier and read_error(earlier[-1]) is not None:
        unreadable.append(earlier.pop())
    files = ", ".join(f"{other.name}.*" for other in unreadable)
    others = [other.name for other in unreadable[1:]]
    so = f"so {'is' if len(others) == 1 else 'are'} {and_list(others)}: " if others else ""
    its, it = ("their", "them") if others else ("its", "it")
    advice = (f"{so}remove {its} files ({files}) to use {earlier[-1].name}, the newest readable checkpoint before {it}"
              if earlier else f"{so}there is no readable checkpoint before {it}: put back a copy of {its} files, or "
              "train again in a new --logdir")
    return UserError(f"{path} is unreadable ({first_line(error)}); {advice}")


def and_list(words):
    """'a', 'a and b', 'a, b and c'."""
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def latest_checkpoint(logdir):
    """The path of the newest whole checkpoint in logdir/checkpoints ("…/ckpt-N"), or None.

    Found from the checkpoint files themselves, not from TensorFlow's `checkpoint` index
    file, which names the newest save only: where that save's files (or the index file) were
    deleted, a run resumes from the newest checkpoint still there, not from iteration 0, and
    TensorFlow prints no error. Whole: its .index and every data shard it names are there.
    """
    whole = whole_checkpoints(logdir)
    return whole[-1] if whole else None


def incomplete_checkpoints(logdir):
    """The paths of the checkpoints in logdir/checkpoints newer than the newest whole one that
    have an .index without all their data files, or data files without an .index (deleted by
    hand, lost, or a save killed between its last renames), oldest first."""
    whole = whole_checkpoints(logdir)
    newest = checkpoint_number(whole[-1]) if whole else -1
    folder = pathlib.Path(logdir) / "checkpoints"
    files = [*folder.glob("ckpt-*.index"), *folder.glob("ckpt-*.data-*")]
    prefixes = {file.name.split(".")[0] for file in files}
    found = sorted((checkpoint_number(prefix), str(folder / prefix)) for prefix in prefixes
                   if checkpoint_number(prefix) is not None)
    return [path for number, path in found if number > newest]


def incomplete_note(paths):
    """'…/ckpt-6 is incomplete (…)', or 'ckpt-4 and ckpt-6 in …/checkpoints are incomplete (…)',
    for incomplete_checkpoints' paths."""
    what = "(an .index or data files missing)"
    if len(paths) == 1:
        return f"{paths[0]} is incomplete {what}"
    names = and_list([pathlib.Path(path).name for path in paths])
    return f"{names} in {pathlib.Path(paths[0]).parent} are incomplete {what}"


def checkpoint_number(path):
    """N of a checkpoint path "…/ckpt-N" (None for another name)."""
    number = pathlib.Path(path).name[len("ckpt-"):]
    return int(number) if number.isdigit() else None


def whole_checkpoints(logdir):
    """The paths of the whole checkpoints in logdir/checkpoints, oldest first (latest_checkpoint)."""
    folder = pathlib.Path(logdir) / "checkpoints"
    whole = []
    for index in folder.glob("ckpt-*.index"):
        prefix = index.with_suffix("")
        shards = list(folder.glob(f"{prefix.name}.data-*-of-*"))
        number = checkpoint_number(prefix)
        if number is not None and shards and len(shards) == int(shards[0].name.rsplit("-of-", 1)[1]):
            whole.append((number, str(prefix)))
    return [path for _, path in sorted(whole)]


def checkpoint_manager(logdir, checkpoint):
    """A tf.train.CheckpointManager of `checkpoint` that keeps the newest 3 in logdir/checkpoints.

    TensorFlow writes a checkpoint's data files into ckpt-N_temp/ first, renames them, and then
    replaces the small `checkpoint` index file in one rename, so a save that is killed half-way
    leaves the previous checkpoint as the latest one, and a ckpt-N_temp/ folder, removed here
    (the run's lock is held: no save is under way). An index that does not name the whole
    checkpoints there, newest last (cut short by a full disk, gone, naming a deleted save or only
    the older ones), is written again from them: the manager would never remove those it does not list.
    """
    import tensorflow as tf

    folder = pathlib.Path(logdir) / "checkpoints"
    remove_partial_saves(logdir)
    index = folder / "checkpoint"
    saves = [pathlib.Path(path) for path in whole_checkpoints(logdir)]
    if saves and not _index_lists(index, saves):
        # TensorFlow's format, oldest first, with their times: the manager still removes them in turn
        times = [save.with_suffix(".index").stat().st_mtime for save in saves]
        with written_whole(index) as partial:
            partial.write_text(f'model_checkpoint_path: "{saves[-1].name}"\n'
                               + "".join(f'all_model_checkpoint_paths: "{save.name}"\n' for save in saves)
                               + "".join(f"all_model_checkpoint_timestamps: {time}\n" for time in times))
    elif not saves and index.is_file():
        index.unlink()
    return tf.train.CheckpointManager(checkpoint, os.path.join(logdir, "checkpoints"), max_to_keep=3)


def remove_partial_saves(logdir):
    """Removes the ckpt-N_temp/ folders of the saves that did not finish (killed, or a full disk)."""
    import shutil

    for partial in (pathlib.Path(logdir) / "checkpoints").glob("ckpt-*_temp"):
        shutil.rmtree(partial, ignore_errors=True)


# The lines of TensorFlow's `checkpoint` index file, in the order it writes them.
INDEX_LINE = re.compile(r'(model_checkpoint_path|all_model_checkpoint_paths): "([^"]*)"'
                        r"|(all_model_checkpoint_timestamps|last_preserved_timestamp): [0-9.e+-]+")


def _index_lists(index, saves):
    """True where the index file reads whole and names exactly `saves` (oldest first), the last as the latest."""
    try:
        lines = index.read_text().split("\n")
    except (OSError, UnicodeDecodeError):  # gone, a folder, binary debris
        return False
    matches = [INDEX_LINE.fullmatch(line) for line in lines[:-1]]
    if lines[-1] != "" or not all(matches):  # cut short, or not TensorFlow's
        return False
    named = [os.path.basename(match[2]) for match in matches if match[1]]
    return named == [saves[-1].name, *(save.name for save in saves)]
