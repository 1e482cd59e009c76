"""Downloads and prepares a TensorFlow Datasets set once, for --dataset=tfds:NAME.

    python -m commands.prepare --dataset=tfds:cifar10                       # into ~/tensorflow_datasets
    python -m commands.prepare --dataset=tfds:celeb_a --data_dir=/data/tfds

Training never downloads a TFDS set (some are tens of gigabytes, and an offline machine
would spend minutes in retries); it reads what this command prepared, from the same
--data_dir. Run it where there is internet, and copy the folder elsewhere if need be.
"""
import logging
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
        manual = bool(getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None))  # TFDS says how, below
        unreachable = [] if manual or builder.is_prepared() else hosts_that_do_not_resolve(builder.url_infos or {})
        if unreachable:  # offline, TFDS would retry each download with back-off for about 3.5 minutes
            raise cli.UserError(f"could not prepare {dataset_name}: no internet here ({unreachable[0]} does not "
                                f"resolve); run this where there is, then copy {builder.data_dir_root} to this machine")
        print(f"preparing {dataset_name} in {builder.data_dir} (downloads it; needs internet)", flush=True)
        # Offline, urllib3 warns of every retry (some 40 lines over minutes) before the download fails,
        # which the one line below then says.
        logging.getLogger("urllib3").setLevel(logging.ERROR)
        root, folder = pathlib.Path(builder.data_dir_root), pathlib.Path(builder.data_dir)
        made = [path for path in (root / "downloads", folder, *folder.parents) if path.is_relative_to(root)
                and not path.exists()]
        try:
            builder.download_and_prepare()
        except Exception as error:  # a failed download, a dataset that needs a manual download, ...
            for path in reversed(made):  # what this attempt made, and only that: a later start would warn of it
                shutil.rmtree(path, ignore_errors=True)
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
            if reason.endswith(":"):  # TFDS's manual-download instructions follow, many lines of them
                reason = reason[:-1] + " (the set's page in the TFDS catalog gives them)"
            raise cli.UserError(f"could not prepare {dataset_name}: {reason}") from None
    print(f"ready: train with --dataset={dataset_name}" + (f" --data_dir={data_dir}" if data_dir else ""))
    return builder.data_dir


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
