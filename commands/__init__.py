"""The commands a user runs on a trained run or a dataset, above the plumbing of common/.

    python -m commands.generate --logdir=RUN    # samples from the run's generator
    python -m commands.evaluate --logdir=RUN    # sample-quality metrics
    python -m commands.export --logdir=RUN      # the generator, for use without this repository
    python -m commands.prepare --dataset=tfds:NAME

They work for a run of any variant: the run's config.json names its variant, and the
registry (variants.py) finds the networks that build its generator. common/ imports none
of them, and no variant.
"""
