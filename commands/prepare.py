"""Downloads and prepares a TensorFlow Datasets set once, for --dataset=tfds:NAME.

    python -m commands.prepare --dataset=tfds:cifar10                       # into ~/tensorflow_datasets
    python -m commands.prepare --dataset=tfds:celeb_a --data_dir=/data/tfds

Training never downloads a TFDS set (some are tens of gigabytes, and an offline machine
would spend minutes in retries); it reads what this command prepared, from the same
--data_dir. Run it where there is internet, and copy the folder elsewhere if need be.
"""
import logging
import os
import pathlib
import shutil
import sys

if __package__ in (None, ""):  # run as `python commands/prepare.py`: make the repository importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from common import cli  # noqa: E402  (first: it quiets TensorFlow's start-up logging)

from absl import flags  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("dataset", None, "tfds:NAME, for example tfds:cifar10 or tfds:lsun/bedroom", required=True)
    flags.DEFINE_string("data_dir", None, "TFDS's data directory (default: TFDS's own, ~/tensorflow_datasets)")


def prepare(dataset_name, data_dir=None):
    """Downloads and prepares tfds:NAME under data_dir; returns where it is."""
    from common import data

    if not dataset_name.startswith("tfds:"):
        raise cli.UserError(f"--dataset must be tfds:NAME, not {dataset_name!r} "
                            "(the other datasets need no preparing)")
    name = dataset_name[len("tfds:"):]
    with data.tfds_scratch():  # TFDS's builder leaves a folder in TMPDIR otherwise
        builder = data.tfds_builder(name, data_dir)
        root, folder = pathlib.Path(builder.data_dir_root), pathlib.Path(builder.data_dir)
        prepared = (folder / "dataset_info.json").is_file()  # (TFDS's is_prepared() warns where it is not)
        if folder.is_dir() and not prepared:  # TFDS would take it for the prepared set and download nothing
            raise cli.UserError(f"could not prepare {dataset_name}: {folder} holds files but not the prepared set; "
                                "move them elsewhere and run this again")
        manual = bool(getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None))  # TFDS says how, below
        unreachable = [] if manual or prepared else hosts_that_do_not_resolve(builder.url_infos or {})
        if unreachable:  # offline, TFDS would retry each download with back-off for about 3.5 minutes
            raise cli.UserError(f"could not prepare {dataset_name}: no internet here ({unreachable[0]} does not "
                                f"resolve); run this where there is, then copy {root} to this machine")
        print(f"preparing {dataset_name} in {folder} (downloads it; needs internet)", flush=True)
        # Offline, urllib3 warns of every retry (some 40 lines over minutes) before the download fails,
        # which the one line below then says.
        logging.getLogger("urllib3").setLevel(logging.ERROR)
        if not sys.stderr.isatty():  # TFDS's progress bars, redrawn in place, are many lines in a log
            import tensorflow_datasets as tfds

            tfds.disable_progress_bar()
        before = contents(root, folder)
        try:
            builder.download_and_prepare()
        except BaseException as error:  # a failed download, a set that needs a manual download, a Ctrl-C, ...
            remove_what_was_made(before)  # (a later start would warn of a half-made set's folder)
            if cli.interrupted(error):  # cli.run_command prints it, exits with 130
                raise KeyboardInterrupt(f"interrupted: {dataset_name} not prepared; what this attempt made is "
                                        "removed") from None
            if not isinstance(error, Exception):
                raise
            reason = cli.first_line(error)[:300]
            if reason.endswith(":"):  # TFDS's manual-download instructions follow, many lines of them
                reason = reason[:-1] + " (the set's page in the TFDS catalog gives them)"
            raise cli.UserError(f"could not prepare {dataset_name}: {reason}") from None
    print(f"ready: train with --dataset={dataset_name}" + (f" --data_dir={data_dir}" if data_dir else ""))
    return builder.data_dir


def contents(root, folder):
    """The folders TFDS writes into as it prepares a set in `folder` under `root` (the data
    directory; its downloads go into downloads/, a folder for each set), each with the names it
    holds now (None: not there yet)."""
    downloads = root / "downloads"
    folders = {downloads, downloads / "extracted",
               *(path for path in (downloads.iterdir() if downloads.is_dir() else ()) if path.is_dir()),
               *(parent for parent in folder.parents if parent.is_relative_to(root))}
    return {path: set(os.listdir(path)) if path.is_dir() else None for path in folders}


def remove_what_was_made(before):
    """Removes what is in the folders of `before` (contents) that was not there then, and the
    folders that were not there at all; what was there is left as it is."""
    for path, names in sorted(before.items()):  # a folder before what is in it
        if names is None:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir():
            for new in set(os.listdir(path)) - names:
                target = path / new
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    target.unlink(missing_ok=True)


def hosts_that_do_not_resolve(urls):
    """The hosts of `urls` (the set's download addresses, from TFDS's checksum list), sorted,
    when none of them resolves; [] when one does, when there are none, or when a proxy
    variable applies to one of them (the proxy resolves it; no_proxy alone is not one)."""
    import socket
    import urllib.parse
    import urllib.request

    parts = [urllib.parse.urlparse(url) for url in urls]
    hosts = sorted({part.hostname for part in parts} - {None})
    proxies = urllib.request.getproxies()  # the *_proxy variables, as requests reads them
    if not hosts or any((proxies.get(part.scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(
            part.hostname or "") for part in parts):
        return []
    for host in hosts:
        try:
            socket.getaddrinfo(host, 443)
            return []
        except (socket.gaierror, UnicodeError):
            pass
    return hosts


def main(argv):
    prepare(FLAGS.dataset, FLAGS.data_dir)


if __name__ == "__main__":
    define_flags()
    cli.run_command(main)
