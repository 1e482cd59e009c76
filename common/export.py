"""Exports a trained run's generator for use without this repository's code.

The command is commands/export.py (python -m commands.export --logdir=RUN), and a
train.py's --export calls `export` here when training ends. Writes, from the run's latest checkpoint, always in float32 (whatever --mixed_precision
the run trained with):
  generator.keras   the Keras model: keras.models.load_model(path) needs no code of this
                    repository (only Keras layers); it maps noise [N, latent] (and for a
                    --conditional run labels [N], whole numbers 0..num_classes-1) to float32
                    images [N, H, W, C] in [-1, 1]
  saved_model/      a TensorFlow SavedModel whose serving_default signature maps
                    noise float32 [N, latent] (and labels int32 [N]) to uint8 images
                    [N, H, W, C], 0..255, the same bytes commands.generate writes; for TF
                    Serving and converters
  export.json       the shapes, the source checkpoint and the run's variant and data

Inputs the generator was not trained for are refused, never drawn: a label outside
0..num_classes-1 or not a whole number (which a one-hot code would turn into an image
of no class), noise of another width, or a label count other than the noise's. Both
models raise tf.errors.InvalidArgumentError (Keras: ValueError for a wrong shape).

The files are written into a new folder beside the output and renamed into place, so
an interrupted export leaves the previous export whole. That folder, .NAME.partial-HOST-PID-...,
is made as a plain mkdir makes a folder (0o777 minus the umask, as the rest of the run), and
one left by a killed export (its process is gone) is removed by the next export.
"""
import errno
import json
import os
import pathlib
import re
import secrets
import shutil
import socket

import arguments
from common import cli, devices, rundir, sampling

EXPORT_FILE = "export.json"
EXPORT_ENTRIES = ("generator.keras", "saved_model", EXPORT_FILE)  # all that an export writes into its folder


def checked_generator(generator, num_classes):
    """The generator behind a check of its labels, in Keras layers only (so that
    keras.models.load_model needs no code of ours); an unconditional generator without
    its labels input (noise -> images), which it does not read.

    Takes [noise float32 [N, latent], labels [N]]. The labels input is float32, so that a
    fractional label reaches the check instead of being truncated on the way in (Keras
    converts every input to its declared dtype). Two IntegerLookup layers with no
    out-of-vocabulary index raise InvalidArgumentError ("found OOV values [...]"): the
    first on a label whose integer part is not 0..num_classes-1 (it shows that label), the
    second on a label in range that is not a whole number (it shows Discretization's
    bucket: 2k + 2 for a label between k and k + 1). Discretization puts each class k in a
    bucket of its own, [k, the next float32 after k), so only whole numbers land there.
    """
    if not num_classes:
        return sampling.label_free(generator)
    import keras
    import numpy as np
    from keras import layers

    classes = list(range(num_classes))
    noise = keras.Input((sampling.latent_dim(generator),), name="noise")
    labels = keras.Input((), dtype="float32", name="labels")
    in_range = layers.IntegerLookup(vocabulary=classes, num_oov_indices=0, name="labels_in_range")(labels)
    # The second check reads the labels only after the first has passed: labels + 0 * in_range.
    after_range = layers.Add()([labels, layers.Rescaling(0.0)(in_range)])
    above = [max(np.nextafter(np.float32(k), np.float32(np.inf)), np.finfo(np.float32).tiny) for k in classes]
    boundaries = [float(bound) for k in classes for bound in (k, above[k])]  # tiny: not flushed to zero
    buckets = layers.Discretization(bin_boundaries=boundaries, name="labels_whole")(after_range)
    whole = layers.IntegerLookup(vocabulary=[2 * k + 1 for k in classes], num_oov_indices=0,
                                 name="labels_whole_numbers")(buckets)
    return keras.Model([noise, labels], generator([noise, whole]), name="generator")


def serving_module(model, num_classes):
    """A tf.Module whose `serve` maps noise (and labels) to uint8 images, as a traced signature.

    Before drawing, it checks at run time that noise is [N, latent] and labels [N] (a
    signature checks only the dtypes) and that every label is 0..num_classes-1, each
    with a message that names what was expected.
    """
    import tensorflow as tf

    latent_dim = sampling.latent_dim(model)

    def to_uint8(images):  # common/images.py's to_uint8: round half to even, clip to 0..255
        return tf.cast(tf.clip_by_value(tf.round((tf.cast(images, tf.float32) + 1.0) * 127.5), 0, 255), tf.uint8)

    def checked_noise(noise):
        return tf.ensure_shape(noise, [None, latent_dim], name=f"noise_must_be_N_by_{latent_dim}")

    module = tf.Module()
    module.generator = model
    noise_spec = tf.TensorSpec([None, latent_dim], tf.float32, name="noise")
    if num_classes:
        @tf.function(input_signature=[noise_spec, tf.TensorSpec([None], tf.int32, name="labels")], autograph=False)
        def serve(noise, labels):
            noise, labels = checked_noise(noise), tf.ensure_shape(labels, [None], name="labels_must_be_N")
            message = f"labels must be class numbers 0 to {num_classes - 1}"
            checks = [
                tf.debugging.assert_equal(tf.shape(labels)[0], tf.shape(noise)[0],
                                          message="labels must be one per row of noise"),
                tf.debugging.assert_non_negative(labels, message=message),
                tf.debugging.assert_less(labels, num_classes, message=message),
            ]
            with tf.control_dependencies(checks):
                return {"images": to_uint8(model([noise, labels], training=False))}
    else:
        @tf.function(input_signature=[noise_spec], autograph=False)
        def serve(noise):
            return {"images": to_uint8(model(checked_noise(noise), training=False))}
    module.serve = serve
    return module


def replaceable(output, given=True):
    """Refuses to replace a folder that is not an earlier export (it could hold anything), or
    an earlier export that holds files it did not write (a user's notes, a converted model,
    at any depth): the new export replaces the folder whole, and they would go with it. An
    export lists its files in export.json; one made before that, EXPORT_ENTRIES at its top.

    given: whether the user named `output` (--output), or it is the run's own export/ folder
    (commands.export without --output, or train.py's --export).
    """
    where, choose = ((f"--output={output}", "choose a new folder") if given else
                     (output, "export elsewhere with `python -m commands.export --output=FOLDER`"))
    if output.is_file() or (output.is_dir() and any(output.iterdir()) and not (output / EXPORT_FILE).is_file()):
        raise cli.UserError(f"{where} exists and is not an earlier export (no {EXPORT_FILE}); {choose}")
    if not output.is_dir():
        return
    try:
        written = set(json.loads((output / EXPORT_FILE).read_text())["files"])
        others = sorted(set(files_under(output)) - written)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):  # an older export, or a damaged list
        others = sorted(path.name for path in output.iterdir() if path.name not in EXPORT_ENTRIES)
    if others:
        named = rundir.and_list(others[:3] + ([f"{len(others) - 3} more"] if len(others) > 3 else []))
        raise cli.UserError(f"{where} holds {named} besides an earlier export, and a new export replaces the "
                            f"folder whole; move them out, or {choose}")


def files_under(folder):
    """The paths of the files under `folder`, relative to it, with / between folders."""
    folder = pathlib.Path(folder)
    return [path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()]


def export(logdir, make_generator, output=None):
    """Writes generator.keras, saved_model/ and export.json; returns the output folder.

    make_generator: the run's variant's networks.make_generator, which builds the generator
    its checkpoint holds (the registry, variants.py, finds it for a run directory).

    They are written into a new folder beside `output` and renamed into place, replacing
    an earlier export whole; an export that fails or is interrupted leaves it as it was.
    """
    import tensorflow as tf

    config = rundir.read_config(logdir)
    given = output is not None
    output = pathlib.Path(output if given else pathlib.Path(logdir) / "export")
    replaceable(output, given)
    with devices.float32_policy():  # a --mixed_precision run's weights and outputs in float32, not 16 bits
        generator, checkpoint, num_classes = sampling.load_generator(logdir, make_generator)
        model = checked_generator(generator, num_classes)
    output.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_folders(output)
    partial = new_folder(output, "partial")
    try:
        # Keras saves a .keras file's assets through a tmpXXXX/ folder that it removes only once the
        # weights are written: a full disk there left it in TMPDIR; in `partial` it goes with it.
        with arguments.temporary_files_in(partial):
            model.save(partial / "generator.keras")
        cli.raise_if_stopped()  # a Ctrl-C that Keras' save caught
        module = serving_module(model, num_classes)
        tf.saved_model.save(module, str(partial / "saved_model"), signatures={"serving_default": module.serve})
        rundir.write_json(partial / EXPORT_FILE, {
            "checkpoint": str(checkpoint), "variant": config["variant"], "data": rundir.data_identity(config),
            "latent_dim": sampling.latent_dim(generator), "num_classes": num_classes,
            "image_shape": list(generator.output.shape[1:]),
            "inputs": ["noise float32 [N, latent_dim]"] + (
                [f"labels [N]: whole numbers 0..{num_classes - 1} (int32 in saved_model)"] if num_classes else []),
            "outputs": {"generator.keras": "float32 [N, H, W, C] in [-1, 1]",
                        "saved_model serving_default": "images: uint8 [N, H, W, C] in 0..255"},
            "files": sorted([*files_under(partial), EXPORT_FILE]),  # what a re-export may replace (replaceable)
        })
        cli.raise_if_stopped()  # whatever caught one, the export is not put in place after a Ctrl-C
        replace_folder(partial, output)
    except BaseException as error:
        replaced = not partial.exists()  # renamed into place: the new export is whole at `output`
        shutil.rmtree(partial, ignore_errors=True)
        if cli.interrupted(error) and not replaced:  # cli.run_command prints it, exits with 130
            left = "the previous export there is as it was" if (output / EXPORT_FILE).is_file() else "nothing written"
            raise KeyboardInterrupt(f"interrupted: {output} not exported; {left}") from None
        if cli.disk_full(error) is not None:  # named as `output`, not as a file of the partial folder, now gone
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(output)) from None
        raise
    print(f"wrote {output / 'generator.keras'} and {output / 'saved_model'} from {checkpoint}")
    return output


def new_folder(output, kind):
    """Makes a new, empty folder beside `output`: .NAME.KIND-HOST-PID-TOKEN, where KIND is partial
    (the new export being written) or old (the previous one, between replace_folder's two renames).

    os.mkdir, not tempfile.mkdtemp: the folder becomes the export, and must get the
    permissions any folder gets (0o777 minus the umask), not mkdtemp's private 0o700.
    """
    while True:
        folder = output.parent / f".{output.name}.{kind}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:  # the same random token twice: draw another
            continue
        except OSError as error:  # a read-only folder, say: named as `output`, which the user asked for
            error.filename = str(output)
            raise


def process_alive(pid):
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # it exists and is another user's; or no PID we wrote: keep it
        return True
    return True


def remove_stale_folders(output):
    """Removes the folders beside `output` that an export killed on this machine left behind
    (SIGKILL, power loss): partial ones always, an old one only once `output` exists (else it
    is the previous export, which replace_folder did not get to put back). Folders of a live
    process, or of another machine (which this one cannot check), are left alone.
    """
    ours = re.compile(rf"\.{re.escape(output.name)}\.(?P<kind>partial|old)-(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{{8}}")
    for folder in output.parent.iterdir():
        match = ours.fullmatch(folder.name)
        if (not match or match["host"] != socket.gethostname() or process_alive(int(match["pid"]))
                or not folder.is_dir()):
            continue
        if match["kind"] == "partial" or output.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


def replace_folder(new, output):
    """Puts folder `new` at `output`, replacing the folder there, if any.

    A folder cannot be renamed over a non-empty one, so the old one is renamed aside
    first and put back if the second rename fails; `output` is missing only between
    the two renames.
    """
    if not output.exists():
        os.replace(new, output)
        return
    old = new_folder(output, "old")
    os.replace(output, old)  # renames over the new, empty folder
    try:
        os.replace(new, output)
    except BaseException:
        os.replace(old, output)
        raise
    shutil.rmtree(old, ignore_errors=True)

