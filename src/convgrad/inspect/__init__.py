"""``convgrad.inspect``: inside a trained model — every layer's activations and gradients for
one example, by layer name, and the numbers behind one feature-map cell or one weight's
gradient.

    import convgrad as cg
    from convgrad.inspect import examine, record

    run = cg.load_run("runs/cnn")                                  # model, config, data
    seen = examine(run.model, run.data.test_x[0], label=run.data.test_y[0])
    seen.probabilities, seen.layers                                # per-layer statistics
    seen.recording.activations["conv1"], seen.recording.gradients["conv1"]

One concern per module: ``layers`` (which modules are layers, in running order, with the
summary's shapes and costs and the residual blocks), ``record`` (activations and gradients
by layer name through module hooks), ``examine`` (one example through the model and back),
``windows`` (one output cell's window and one weight's per-position contributions, from the
reference convolution's windows), ``inputs`` (a ``.npy``, a text of numbers or an image read
as the model's input), ``report`` (what the commands print) and ``cli`` (``convgrad
inspect`` and ``convgrad predict``).
"""
from .examine import Examination, LayerStats, examine
from .layers import Layer, layer_modules, model_layers
from .record import Recording, record

__all__ = ["Examination", "Layer", "LayerStats", "Recording", "examine", "layer_modules",
           "model_layers", "record"]
