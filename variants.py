"""The variants, in one place: each one's directory, the variant it is copied from, its paper.

Every variant is a directory with the same three modules (networks.py, losses.py, train.py);
toy/, figures/, benchmarks/, scripts/, tests/ and commands/ take the list, the parents and
the modules from here, never from a list of their own. A new sibling variant is a directory
copied from its parent and one entry in VARIANTS.

common/ never imports this module (tests/test_side_by_side.py checks it): the plumbing does
not know which variants exist; a train.py hands down what it needs.
"""
import importlib
from typing import NamedTuple, Optional

MODULES = ("networks", "losses", "train")  # the files of every variant directory, as modules


class Variant(NamedTuple):
    name: str  # its directory, and the "variant" of its runs' config.json
    parent: Optional[str]  # the variant it is copied from: `diff -u PARENT/train.py NAME/train.py`
    paper: str  # the title of the paper it implements (or whose idea it adds)
    authors: str  # "Radford et al. 2015"
    arxiv: str  # the paper's arXiv id
    beyond_the_papers: bool  # a sibling: an idea beyond the three papers, copied from its parent
    # Flags it no longer has, with the value its code now always uses. A run saved with that
    # value resumes; a run saved with another is refused (common/rundir.py: check_logdir).
    retired_flags: dict = {}

    def module(self, part):
        """The variant's networks, losses or train module (importing a train.py defines no flag)."""
        if part not in MODULES:
            raise ValueError(f"a variant has the modules {', '.join(MODULES)}, not {part!r}")
        return importlib.import_module(f"{self.name}.{part}")

    def flag_defaults(self):
        """The variant's configuration at its flags' defaults (the paper's settings)."""
        from common import cli

        return cli.default_config(self.module("train"))

    def make_generator(self, *args, **kwargs):
        """The variant's networks.make_generator(image_shape, ..., num_classes=0)."""
        return self.module("networks").make_generator(*args, **kwargs)


VARIANTS = {variant.name: variant for variant in (
    Variant("dcgan", None, "Unsupervised Representation Learning with Deep Convolutional Generative "
            "Adversarial Networks", "Radford et al. 2015", "1511.06434", False),
    Variant("wgan", "dcgan", "Wasserstein GAN", "Arjovsky et al. 2017", "1701.07875", False,
            retired_flags={"beta1": 0.0}),  # RMSProp's momentum once, which the paper leaves at 0
    Variant("wgan_gp", "wgan", "Improved Training of Wasserstein GANs", "Gulrajani et al. 2017", "1704.00028",
            False,
            # the options that are sngan/ and wgan_r1/ now, at the paper's values
            retired_flags={"penalty": "one_centred", "loss": "wasserstein", "spectral_norm": False}),
    Variant("sngan", "wgan", "Spectral Normalization for Generative Adversarial Networks", "Miyato et al. 2018",
            "1802.05957", True),
    Variant("wgan_r1", "wgan_gp", "Which Training Methods for GANs do actually Converge?", "Mescheder et al. 2018",
            "1801.04406", True),
)}
NAMES = tuple(VARIANTS)  # in the order of the papers, then the siblings
PAPERS = tuple(name for name in NAMES if not VARIANTS[name].beyond_the_papers)  # dcgan, wgan, wgan_gp
PARENTS = {name: variant.parent for name, variant in VARIANTS.items() if variant.parent}


def get(name):
    """The Variant called `name`; ValueError naming the choices for any other name."""
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; choose one of {', '.join(NAMES)}")
    return VARIANTS[name]


def module(name, part):
    """The module `part` (networks, losses or train) of variant `name`."""
    return get(name).module(part)


def generator_builder(logdir):
    """The make_generator of the variant that trained the run in `logdir` (its config.json
    names it); raises common.cli.UserError for a folder that is not a run of a known variant."""
    from common import cli, rundir

    name = rundir.read_config(logdir).get("variant")
    if name not in VARIANTS:
        raise cli.UserError(f"{logdir} holds a run of an unknown variant {name!r}; known: {', '.join(NAMES)}")
    return VARIANTS[name].make_generator


def load_generator(logdir):
    """The generator of the run in `logdir` at its latest checkpoint: common.sampling.load_generator
    with the networks of the run's own variant. Returns (generator, checkpoint path, num_classes)."""
    from common import sampling

    return sampling.load_generator(logdir, generator_builder(logdir))
