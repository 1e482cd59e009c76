"""Train the mnist_5k digit classifier and put it into common/assets/, where evaluation finds it.

    python scripts/bundle_classifier.py     # about 20 s on 2 CPU cores

The bundled classifier is the one `common/classifier.py` trains (seed 0, its epochs), saved
under the key of what decides its weights (the training digits, that file's source, the seed
and the epochs): the same weights on every machine, so the same samples score the same FD
everywhere, and no training before the first evaluation. An edit of common/classifier.py
changes the key, and the classifier then trains on first use again until this script is run;
tests/test_evaluate.py says so. Older bundled mnist_5k classifiers are removed.
"""
import os
import pathlib
import shutil
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import arguments  # noqa: E402

NAME = "mnist_5k"


def main():
    parser = arguments.Parser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    import common  # noqa: F401  (quiets TensorFlow's start-up logging)
    from common import classifier

    splits = classifier.training_and_heldout(NAME)
    entry = f"classifier-{NAME}-{classifier.entry_key(splits, 0, classifier.EPOCHS[NAME])}"
    current = [classifier.BUNDLED / f"{entry}{suffix}" for suffix in (".weights.h5", ".json")]
    try:
        classifier.load_saved(splits, 0, classifier.BUNDLED / entry)
        said = f"common/assets/{entry}.* is this code's classifier already"
    except classifier.Unreadable:  # none yet, or a damaged one: train it
        if not os.access(classifier.BUNDLED, os.W_OK):  # (before the training, not after)
            parser.error(f"{classifier.BUNDLED}: cannot be written")
        print(f"training the {NAME} classifier (about 20 s on 2 CPU cores)", flush=True)
        with tempfile.TemporaryDirectory() as scratch:
            trained = classifier.load_or_train(NAME, cache_dir=scratch, splits=splits, verbose=False, bundled=False)
            for path in current:  # the record last: it marks the entry whole
                with arguments.written_whole(path) as partial:
                    shutil.copyfile(pathlib.Path(scratch) / path.name, partial)
        said = f"wrote common/assets/{entry}.weights.h5 and .json (held-out accuracy {trained.heldout_accuracy:.1%})"
    for old in classifier.BUNDLED.glob(f"classifier-{NAME}-*"):  # an older key's (also one an interrupt left)
        if old not in current:
            old.unlink()
    print(said)


if __name__ == "__main__":
    main()
