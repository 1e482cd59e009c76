"""Network shapes, output ranges and exact parameter counts for 28x28, 32x32 and 64x64."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import variants
from dcgan import networks as dcgan_networks
from sngan import networks as sngan_networks
from wgan import networks as wgan_networks
from wgan_gp import networks as wgan_gp_networks
from tests.helpers import VARIANTS
from wgan_r1 import networks as wgan_r1_networks

ALL = {"dcgan": dcgan_networks, "wgan": wgan_networks, "wgan_gp": wgan_gp_networks, "sngan": sngan_networks,
       "wgan_r1": wgan_r1_networks}
SHAPES = [(28, 28, 1), (32, 32, 3), (64, 64, 3)]


def conv(cin, cout, bias):  # 5x5 kernels everywhere
    return 5 * 5 * cin * cout + (cout if bias else 0)


def batch_norm(c):  # gamma, beta, moving mean, moving variance
    return 4 * c


def generator_parameters(widths, channels, latent=128):
    total = latent * 4 * 4 * widths[0] + batch_norm(widths[0])  # projection, no bias (BatchNorm follows)
    for cin, cout in zip(widths, widths[1:]):
        total += conv(cin, cout, bias=False) + batch_norm(cout)
    return total + conv(widths[-1], channels, bias=True)  # output layer: bias, no BatchNorm


def discriminator_parameters(size, widths, channels, norm):
    widths = list(reversed(widths))
    total = conv(channels, widths[0], bias=True)  # input layer: never normalized
    for index, (cin, cout) in enumerate(zip(widths, widths[1:]), start=2):
        side = math.ceil(size / 2**index)  # stride 2, "same": 28 -> 14 -> 7 -> 4
        if norm == "batch":
            total += conv(cin, cout, bias=False) + batch_norm(cout)
        elif norm == "layer":  # gamma and beta over H, W, C
            total += conv(cin, cout, bias=False) + 2 * side * side * cout
        else:
            total += conv(cin, cout, bias=True)
    return total + 4 * 4 * widths[-1] + 1  # dense to one output


EXPECTED_WIDTHS = {28: (256, 128, 64), 32: (512, 256, 128), 64: (1024, 512, 256, 128)}


def test_parameter_count_formula_matches_a_hand_count():
    # 28x28 DCGAN nets, layer by layer; 1,030,145 for the WGAN-GP critic without BatchNorm.
    generator = 128 * 4096 + 4 * 256 + 25 * 256 * 128 + 4 * 128 + 25 * 128 * 64 + 4 * 64 + 25 * 64 + 1
    discriminator = 25 * 64 + 64 + 25 * 64 * 128 + 4 * 128 + 25 * 128 * 256 + 4 * 256 + 4096 + 1
    assert generator == generator_parameters(EXPECTED_WIDTHS[28], 1) == 1_551_681
    assert discriminator == discriminator_parameters(28, EXPECTED_WIDTHS[28], 1, "batch") == 1_031_297
    critic = 25 * 64 + 64 + 25 * 64 * 128 + 128 + 25 * 128 * 256 + 256 + 4096 + 1
    assert critic == discriminator_parameters(28, EXPECTED_WIDTHS[28], 1, "none") == 1_030_145


@pytest.mark.parametrize("variant", ALL)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}x{s[2]}")
def test_generator_shape_range_and_size(variant, shape):
    generator = ALL[variant].make_generator(shape)
    noise = 10.0 * tf.random.normal([3, ALL[variant].LATENT_DIM])  # large noise: saturates tanh
    images = generator([noise, tf.zeros([3], tf.int32)], training=False).numpy()
    assert images.shape == (3, *shape)
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert generator.count_params() == generator_parameters(EXPECTED_WIDTHS[shape[0]], shape[2])


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}x{s[2]}")
@pytest.mark.parametrize(
    "variant, build, norm",
    [
        ("dcgan", lambda shape: dcgan_networks.make_discriminator(shape), "batch"),
        ("wgan", lambda shape: wgan_networks.make_discriminator(shape), "batch"),
        ("wgan_gp", lambda shape: wgan_gp_networks.make_discriminator(shape), "none"),
        ("wgan_gp-layer", lambda shape: wgan_gp_networks.make_discriminator(shape, normalization="layer"), "layer"),
        ("wgan_r1", lambda shape: wgan_r1_networks.make_discriminator(shape), "none"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_discriminator_shape_and_size(variant, build, norm, shape):
    discriminator = build(shape)
    output = discriminator([tf.random.uniform([3, *shape], -1, 1), tf.zeros([3], tf.int32)], training=False)
    assert output.shape == (3, 1)
    assert discriminator.count_params() == discriminator_parameters(shape[0], EXPECTED_WIDTHS[shape[0]], shape[2], norm)


@pytest.mark.parametrize("variant, norm", [("wgan_gp", "none"), ("wgan_gp", "layer"), ("wgan_r1", "none")])
def test_penalized_critics_treat_each_example_on_its_own(variant, norm):
    # The penalty needs D(x_i) to depend on x_i alone; BatchNorm in training mode breaks that.
    critic = ALL[variant].make_discriminator((28, 28, 1), normalization=norm)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in critic.layers)
    batch = tf.random.uniform([4, 28, 28, 1], -1, 1)
    changed = tf.concat([batch[:1], tf.random.uniform([3, 28, 28, 1], -1, 1)], axis=0)
    labels = tf.zeros([4], tf.int32)
    first = critic([batch, labels], training=True)[0].numpy()
    assert np.allclose(first, critic([changed, labels], training=True)[0].numpy(), atol=1e-6)


def test_dcgan_discriminator_in_training_mode_depends_on_the_batch():
    # The contrast to the test above: with BatchNorm, other examples move D(x_0).
    discriminator = dcgan_networks.make_discriminator((28, 28, 1))
    batch = tf.random.uniform([4, 28, 28, 1], -1, 1)
    changed = tf.concat([batch[:1], tf.random.uniform([3, 28, 28, 1], -1, 1)], axis=0)
    labels = tf.zeros([4], tf.int32)
    first = discriminator([batch, labels], training=True)[0].numpy()
    assert not np.allclose(first, discriminator([changed, labels], training=True)[0].numpy(), atol=1e-6)


def test_weights_start_from_dcgan_normal_init():
    generator = wgan_gp_networks.make_generator((64, 64, 3))
    kernel = generator.layers[1].kernel.numpy()  # the 128 -> 4*4*1024 projection
    assert kernel.mean() == pytest.approx(0.0, abs=1e-3)
    assert kernel.std() == pytest.approx(0.02, rel=0.02)


# ---- --conditional, and sngan/'s spectral norm -------------------------------------------


@pytest.mark.parametrize("variant", ALL)
def test_conditional_generator_output_changes_with_the_label_and_with_the_noise(variant):
    keras.utils.set_random_seed(0)
    generator = ALL[variant].make_generator((28, 28, 1), num_classes=10)
    noise = tf.random.normal([1, ALL[variant].LATENT_DIM])
    other_noise = tf.random.normal([1, ALL[variant].LATENT_DIM])
    samples = [
        generator([noise, tf.constant([label])], training=False).numpy()
        for label in range(10)
    ]
    # The same z with ten labels: ten different images.
    differences = [np.abs(samples[a] - samples[b]).max() for a in range(10) for b in range(a + 1, 10)]
    assert min(differences) > 1e-3
    # The same label with another z: another image.
    assert np.abs(generator([other_noise, tf.constant([3])], training=False).numpy() - samples[3]).max() > 1e-3
    # The label is an input of its own: one-hot code next to z (10 more weights per unit).
    unconditional = ALL[variant].make_generator((28, 28, 1))
    assert generator.count_params() - unconditional.count_params() == 10 * 4 * 4 * 256


@pytest.mark.parametrize("variant", ALL)
def test_projection_discriminator_adds_the_label_embedding_dotted_with_the_features(variant):
    keras.utils.set_random_seed(0)
    discriminator = ALL[variant].make_discriminator((28, 28, 1), num_classes=10)
    images = tf.random.uniform([2, 28, 28, 1], -1, 1)
    unwrapped = [getattr(layer, "layer", layer) for layer in discriminator.layers]  # sngan wraps its layers
    embedding = next((layer for layer in unwrapped if isinstance(layer, keras.layers.Embedding)), None)
    denses = [layer for layer in unwrapped if isinstance(layer, keras.layers.Dense)]
    dense = next(layer for layer in denses if layer.kernel.shape[-1] == 1)
    flatten = next(layer for layer in discriminator.layers if isinstance(layer, keras.layers.Flatten))
    # D(x, y) = w . phi(x) + b + <embed(y), phi(x)>, with phi(x) read from the model itself.
    phi = keras.Model(discriminator.inputs[0], flatten.output)(images, training=False).numpy()
    if embedding is not None:
        table = embedding.embeddings.numpy()
    else:  # sngan: embed(y) = one_hot(y) V, V the kernel of a spectrally normalized Dense
        table = next(layer for layer in denses if layer.kernel.shape[0] == 10).kernel.numpy()
    for label in (0, 7):
        output = discriminator([images, tf.constant([label, label])], training=False).numpy().ravel()
        expected = phi @ dense.kernel.numpy().ravel() + dense.bias.numpy()[0] + phi @ table[label]
        np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("num_classes", [0, 10], ids=["unconditional", "conditional"])
def test_spectral_norm_brings_every_critic_layer_to_unit_spectral_norm(num_classes):
    keras.utils.set_random_seed(0)
    critic = sngan_networks.make_discriminator((28, 28, 1), num_classes=num_classes)
    wrapped = [layer for layer in critic.layers if isinstance(layer, keras.layers.SpectralNormalization)]
    # Three convolutions and the output layer; conditional, also the label embedding, as
    # the projection paper normalizes it: otherwise the class term has no Lipschitz bound.
    assert len(wrapped) == (5 if num_classes else 4)
    images = tf.random.uniform([4, 28, 28, 1], -1, 1)
    inputs = [images, tf.constant([0, 3, 7, 9])]  # the unconditional critic reads no labels
    training_call = tf.function(lambda: critic(inputs, training=True))  # traced once, then run as a graph
    for _ in range(100):  # one power iteration per training call; u converges within about 100
        training_call()
    for layer in wrapped:
        kernel = layer.layer.kernel.numpy()
        assert largest_singular_value(kernel.reshape(-1, kernel.shape[-1])) == pytest.approx(1.0, rel=0.02)


def largest_singular_value(matrix):
    """sigma_max(W) = sqrt(largest eigenvalue of W^T W), from the smaller of the two Gram
    matrices: an SVD of the 3200 x 256 kernel alone takes about half a CPU-second."""
    matrix = matrix.astype(np.float64)
    gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
    return float(np.sqrt(np.linalg.eigvalsh(gram)[-1]))


@pytest.mark.parametrize("num_classes", [0, 10], ids=["unconditional", "conditional"])
@pytest.mark.parametrize("variant", ALL)
def test_every_critic_outputs_float32_under_mixed_precision(variant, num_classes):
    # The losses and penalties add to the critic's output: 16 bits there would mix dtypes.
    keras.mixed_precision.set_global_policy("mixed_float16")  # conftest.py restores float32
    critic = ALL[variant].make_discriminator((28, 28, 1), num_classes=num_classes)
    images = tf.random.uniform([2, 28, 28, 1], -1, 1)
    output = critic([images, tf.constant([1, 2])], training=True)
    assert output.dtype == tf.float32


def train_a_few_iterations(variant, activation, monkeypatch, iterations=1):
    """The variant's own models and steps, built with `activation` in D, after seeded
    iterations (one critic update and one generator update each) on fixed digits: (logged
    numbers, every weight of G and D, the optimizers' state, the D step's graph).

    The learning rate is 0, so every gradient is taken at the same weights and the
    optimizers' state (Adam's moments, RMSProp's mean square) holds smooth functions of
    them: a weight after a real Adam step is about learning_rate * sign(gradient), which
    round-off can flip for a gradient element near 0.
    """
    from common import cli, data

    train = variants.module(variant, "train")
    monkeypatch.setattr(variants.module(variant, "networks"), "leaky_relu", activation)
    # One critic update per iteration: at learning rate 0 every update is taken at the same
    # weights, so the paper's n_critic would only repeat the same comparison on other batches.
    config = cli.default_config(train, batch_size=16, learning_rate=0.0, n_critic=1)
    keras.utils.set_random_seed(3)
    generator, discriminator, *optimizers = models = train.make_models(config, (28, 28, 1))
    steps = train.make_steps(*models, tf.random.Generator.from_seed(3), config, tf.distribute.get_strategy())
    batches = data.make_batches(data.load_mnist_5k(), 16, seed=3)
    logged = [train.train_iteration(batches, *steps, config["n_critic"]) for _ in range(iterations)]
    numbers = np.array([float(value) for metrics in logged for value in metrics.values()])
    weights = [w.numpy() for w in generator.weights + discriminator.weights]
    state = [v.numpy() for optimizer in optimizers for v in optimizer.variables]
    specs = tf.TensorSpec([16, 28, 28, 1], tf.float32), tf.TensorSpec([16], tf.int32)
    return numbers, weights, state, steps[0].get_concrete_function(*specs).graph


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_critic_activation_trains_as_keras_leaky_relu_does_with_less_work(variant, monkeypatch):
    ours = variants.module(variant, "networks").leaky_relu
    keras_leaky_relu = lambda x: keras.activations.leaky_relu(x, negative_slope=0.2)  # what Keras' layer computes
    before_numbers, before_weights, before_state, before_graph = train_a_few_iterations(
        variant, keras_leaky_relu, monkeypatch)
    numbers, weights, state, graph = train_a_few_iterations(variant, ours, monkeypatch)
    np.testing.assert_allclose(numbers, before_numbers, rtol=1e-5, atol=1e-6)
    for after, before in zip(weights, before_weights):
        np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)
    # Each state variable to 1e-4 of its largest entry (tests/test_devices.py says why).
    for after, before in zip(state, before_state):
        np.testing.assert_allclose(after, before, rtol=0, atol=1e-4 * max(float(np.max(np.abs(before))), 1e-12))
    assert max(float(np.max(np.abs(v))) for v in state) > 0  # gradients were taken and compared

    def gradient_convolutions(graph):
        return sum(op.type in ("Conv2DBackpropInput", "Conv2DBackpropFilter") for op in graph.get_operations())

    # A penalized critic no longer back-propagates the zero second derivative through its
    # three layers (a filter and an input gradient each); the other critics do the same work.
    fewer = 6 if variant in ("wgan_gp", "wgan_r1") else 0
    assert gradient_convolutions(graph) == gradient_convolutions(before_graph) - fewer

    # A convolution's BiasAdd feeds only its activation (whose gradient reads the output's sign):
    # Grappler's remapper can fuse the three, where a second use made it fail on the whole step.
    biased = [op for op in graph.get_operations() if op.type == "LeakyRelu" and op.inputs[0].op.type == "BiasAdd"]
    assert biased or variant in ("dcgan", "wgan")  # (their critics normalize between the two)
    uses = [[use.type for use in op.inputs[0].consumers() if use.type != "IdentityN"] for op in biased]
    assert all(types == ["LeakyRelu"] for types in uses), uses  # (IdentityN: custom_gradient's, pruned)
