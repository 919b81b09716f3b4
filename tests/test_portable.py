"""A ticket in TF-MOT's, SavedModel's and TFLite's forms: the same outputs, its zeros kept
by TF-MOT's training, its sparsity shrinking the TFLite file."""
import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras

from tf_lottery.models import keras_masks, portable
from tf_lottery.models.registry import build_model


def lenet_ticket(keep: float, seed: int = 0):
    model, _ = build_model("lenet300_100", (28, 28, 1), 10)
    rng = np.random.default_rng(seed)
    mask = {n: (rng.random(v.shape) < keep).astype(np.float32) for n, v in keras_masks.masked_variables(model).items()}
    keras_masks.set_masks(model, mask)
    weights = keras_masks.get_weights(model)
    keras_masks.set_weights(model, {n: v * mask[n] if n in mask else v for n, v in weights.items()})
    return model, mask


def tflite_logits(content: bytes, x: np.ndarray) -> np.ndarray:
    interpreter = tf.lite.Interpreter(model_content=content)
    (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inputs["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inputs["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(outputs["index"])


def test_tfmot_keeps_the_tickets_masks_and_zeros_and_strips_to_plain_keras(small_mnist):
    model, mask = lenet_ticket(0.2)
    x, y = small_mnist.test.x[:64], small_mnist.test.y[:64]
    wrapped = portable.to_tfmot(model)
    np.testing.assert_array_equal(wrapped(x).numpy(), model(x).numpy())
    wrapped.compile(optimizer="adam", loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    wrapped.fit(x, y, epochs=2, verbose=0, callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    layers = {layer.name: layer for layer in stripped.layers}
    assert type(layers["fc1"]) is tf_keras.layers.Dense and layers["fc1"].kernel_constraint is None
    for name, m in mask.items():
        kernel = layers[name.split("/")[0]].kernel.numpy()
        assert not np.any(kernel[m == 0]) and np.any(kernel[m == 1]), name


def test_tflite_of_a_ticket_gives_its_predictions_from_a_smaller_file(small_mnist, tmp_path):
    model, _ = lenet_ticket(0.21)
    x, y = small_mnist.test.x, small_mnist.test.y
    logits = model.predict(x, verbose=0)
    sparse, dense = portable.to_tflite(model), portable.to_tflite(portable.plain_copy(model), sparse=False)
    lite = tflite_logits(sparse, x)
    np.testing.assert_allclose(lite, logits, atol=1e-4)
    assert np.mean(lite.argmax(1) == y) == np.mean(logits.argmax(1) == y)
    assert len(sparse) < 0.5 * len(dense)
    tf.saved_model.save(portable.plain_copy(model), str(tmp_path / "saved"))
    served = tf.saved_model.load(str(tmp_path / "saved"))
    np.testing.assert_allclose(served.signatures["serving_default"](tf.constant(x[:8]))["output"].numpy(),
                               logits[:8], atol=1e-5)
