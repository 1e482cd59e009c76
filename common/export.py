"""Exports a trained run's generator for use without this repository's code.

    python -m common.export --logdir=runs/wgan_gp-mnist            # into runs/wgan_gp-mnist/export/
    python -m common.export --logdir=RUN --output=/models/digits

Writes, from the run's latest checkpoint:
  generator.keras   the Keras model: keras.models.load_model(path) needs no code of this
                    repository (only Keras layers); it maps noise [N, latent] (and for a
                    --conditional run int labels [N]) to float images [N, H, W, C] in [-1, 1]
  saved_model/      a TensorFlow SavedModel whose serving_default signature maps
                    noise float32 [N, latent] (and labels int32 [N]) to uint8 images
                    [N, H, W, C], 0..255, the same bytes common.generate writes; for TF
                    Serving and converters
  export.json       the shapes, the source checkpoint and the run's variant and data
"""
import pathlib
import sys

if __package__ in (None, ""):  # run as `python common/export.py`: make the repository importable
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from common import cli, rundir, sampling  # noqa: E402  (first: it quiets TensorFlow's start-up logging)

from absl import flags  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("logdir", None, "Run directory written by a train.py", required=True)
    flags.DEFINE_string("output", None, "Folder to write into (default: LOGDIR/export)")


def serving_module(generator, num_classes):
    """A tf.Module whose `serve` maps noise (and labels) to uint8 images, as a traced signature."""
    import tensorflow as tf

    latent_dim = sampling.latent_dim(generator)

    def to_uint8(images):  # common/images.py's to_uint8: round half to even, clip to 0..255
        return tf.cast(tf.clip_by_value(tf.round((tf.cast(images, tf.float32) + 1.0) * 127.5), 0, 255), tf.uint8)

    module = tf.Module()
    module.generator = generator
    noise_spec = tf.TensorSpec([None, latent_dim], tf.float32, name="noise")
    if num_classes:
        @tf.function(input_signature=[noise_spec, tf.TensorSpec([None], tf.int32, name="labels")])
        def serve(noise, labels):
            return {"images": to_uint8(generator([noise, labels], training=False))}
    else:
        @tf.function(input_signature=[noise_spec])
        def serve(noise):
            return {"images": to_uint8(generator(noise, training=False))}
    module.serve = serve
    return module


def export(logdir, output=None):
    """Writes generator.keras, saved_model/ and export.json; returns the output folder."""
    import tensorflow as tf

    config = rundir.read_config(logdir)
    generator, checkpoint, num_classes = sampling.load_generator(logdir)
    output = pathlib.Path(output or pathlib.Path(logdir) / "export")
    output.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed, so an interrupted export leaves no half file.
    partial = output / "generator.partial.keras"
    generator.save(partial)
    partial.replace(output / "generator.keras")
    module = serving_module(generator, num_classes)
    tf.saved_model.save(module, str(output / "saved_model"), signatures={"serving_default": module.serve})
    rundir.write_json(output / "export.json", {
        "checkpoint": str(checkpoint), "variant": config["variant"], "data": rundir.data_identity(config),
        "latent_dim": sampling.latent_dim(generator), "num_classes": num_classes,
        "image_shape": list(generator.output.shape[1:]),
        "inputs": ["noise float32 [N, latent_dim]"] + (["labels int32 [N]"] if num_classes else []),
        "outputs": {"generator.keras": "float32 [N, H, W, C] in [-1, 1]",
                    "saved_model serving_default": "images: uint8 [N, H, W, C] in 0..255"},
    })
    print(f"wrote {output / 'generator.keras'} and {output / 'saved_model'} from {checkpoint}")
    return output


def main(argv):
    export(FLAGS.logdir, FLAGS.output)


if __name__ == "__main__":
    define_flags()
    cli.run_command(main)
