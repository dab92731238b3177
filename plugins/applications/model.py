"""Build a ``keras.applications`` network as a zoo model: RGB pixels in [0, 255] in, the
family's preprocessing as layers, the Keras backbone, and Keras' own classifier head.

The backbone is the ``keras.applications`` function itself (``include_top=False``,
``weights=None``), called on the preprocessed tensor so that the model is one flat graph;
the head repeats Keras' ``include_top=True`` layers (with the pooling and dropout of the
config). At the default hyper-parameters the model therefore has exactly the weighted
layers, in the same order and shapes, as ``keras.applications.<Network>()`` — which is
what Keras' ImageNet weight files (legacy ``.h5``, loaded in layer order) need. The
preprocessing layers hold no weights.
"""

from __future__ import annotations

import math

import keras

from zoo.plugin import Config

from .networks import FAMILIES, NETWORKS, network

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB, of pixels in [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def build(config: Config) -> keras.Model:
    family = FAMILIES[config.architecture]
    net = network(family.name, config["variant"] if "variant" in config else "")
    height, width = config.height, config.width
    preprocess = bool(config.get("include_preprocessing", True))
    mode = net.preprocessing or family.preprocessing
    inputs = keras.Input(shape=(height, width, 3), name="image")
    x = _preprocessing(inputs, mode, preprocess, height, width)
    kwargs: dict = {"include_top": False, "weights": None, "input_shape": (height, width, 3)}
    if family.keras_flag:
        # ConvNeXt's and EfficientNetV2's own preprocessing is a Normalization(mean,
        # variance) layer, whose constants reach the traced graph as captured tensors that
        # tf2onnx turns into extra model inputs; the same arithmetic as one Rescaling (no
        # weights either) exports to every format. MobileNetV3's own is a Rescaling: kept.
        kwargs["include_preprocessing"] = preprocess and mode == "keras"
    if "alpha" in config:
        kwargs["alpha"] = config.alpha
    backbone = getattr(keras.applications, net.function)(input_tensor=x, **kwargs)
    if family.preprocessing == "efficientnet":
        _set_efficientnet_normalization(backbone)
    if "bn_momentum" in config:
        for layer in backbone.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = config.bn_momentum  # training only: weights are unchanged
    features = backbone.output
    if family.head == "convnext":
        # include_top=False ends in a LayerNormalization of the feature map that Keras'
        # include_top=True model does not have (its head normalises after pooling)
        last = backbone.layers[-1]
        assert isinstance(last, keras.layers.LayerNormalization), last
        features = last.input
    outputs = _head(family.head, features, config, net.name)
    return keras.Model(inputs, outputs, name=config.model)


# --------------------------------------------------------------------------- preprocessing
def _preprocessing(x, mode: str, include: bool, height: int, width: int):  # type: ignore[no-untyped-def]
    """The family's ``preprocess_input`` as weightless layers (none when not ``include``)."""
    if mode == "caffe" and include:
        x = _rgb_to_bgr(x, height, width)
        return keras.layers.Rescaling(1.0, offset=[-m for m in CAFFE_MEAN_BGR], name="caffe_mean")(
            x
        )
    if mode == "tf" and include:
        return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale_to_pm1")(x)
    if mode == "tf128" and include:
        return keras.layers.Rescaling(1.0 / 128.0, offset=-1.0, name="scale_by_128")(x)
    if mode == "torch" and include:
        return keras.layers.Rescaling(
            [1.0 / (255.0 * s) for s in IMAGENET_STD],
            offset=[-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)],
            name="imagenet_normalization",
        )(x)
    if mode == "efficientnet":
        # Keras' EfficientNet normalises inside the network: Rescaling(1/255), then
        # Normalization(mean m, variance v), and -- only when it loads its ImageNet weights
        # -- Rescaling(c) with c = 1/sqrt(std) per channel. That last layer is not part of
        # a weights=None build, so it comes first here in an equivalent form:
        # c * N(u) == N(m + c * (u - m)) for the affine N, i.e. pixels p -> c * p +
        # 255 * m * (1 - c), which needs only the mean m (set below and in the files).
        scale = [1.0 / math.sqrt(s) for s in IMAGENET_STD]
        offset = [255.0 * m * (1.0 - c) for m, c in zip(IMAGENET_MEAN, scale, strict=True)]
        return keras.layers.Rescaling(scale, offset=offset, name="efficientnet_scale")(x)
    return x  # "keras": the network's include_preprocessing; or preprocessing left out


def _rgb_to_bgr(x, height: int, width: int):  # type: ignore[no-untyped-def]
    """Reverse the channel order with weightless built-in layers (no Lambda, no custom
    layer: the graph stays loadable and exportable without zoo)."""
    x = keras.layers.Reshape((height, width, 3, 1), name="bgr_split")(x)
    parts = [
        keras.layers.Cropping3D(((0, 0), (0, 0), (c, 2 - c)), name=f"bgr_take_{name}")(x)
        for c, name in ((2, "b"), (1, "g"), (0, "r"))  # keep channel c of R, G, B
    ]
    x = keras.layers.Concatenate(axis=3, name="bgr_concat")(parts)
    return keras.layers.Reshape((height, width, 3), name="bgr")(x)


def _set_efficientnet_normalization(backbone: keras.Model) -> None:
    """The ImageNet mean and variance in EfficientNet's Normalization layer (a weights=None
    build leaves 0 and 1; the ImageNet files overwrite them with their own values)."""
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.Normalization):
            mean, variance, count = layer.get_weights()
            layer.set_weights(
                [
                    mean * 0 + IMAGENET_MEAN,
                    variance * 0 + [s * s for s in IMAGENET_STD],
                    count,
                ]
            )
            layer.finalize_state()  # its call reads constants made from the variables here
            return


# ------------------------------------------------------------------------------------ head
def _pool(x, pooling: str, name: str, keepdims: bool = False):  # type: ignore[no-untyped-def]
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(keepdims=keepdims, name=name.replace("avg", "max"))(
            x
        )
    return keras.layers.GlobalAveragePooling2D(keepdims=keepdims, name=name)(x)


def _head(kind: str, x, config: Config, network_name: str):  # type: ignore[no-untyped-def]
    """Keras' ``include_top=True`` classifier of the family, with the config's pooling,
    dropout and number of classes."""
    classes, dropout, pooling = config.num_classes, config.dropout, config.pooling
    if kind == "vgg":
        if pooling == "flatten":
            x = keras.layers.Flatten(name="flatten")(x)
        else:
            x = _pool(x, pooling, "avg_pool")
        x = keras.layers.Dense(4096, activation="relu", name="fc1")(x)
        x = keras.layers.Dense(4096, activation="relu", name="fc2")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="top_dropout")(x)
        return keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    if kind == "mobilenet":
        x = _pool(x, pooling, "avg_pool", keepdims=True)
        x = keras.layers.Dropout(dropout, name="dropout")(x)
        x = keras.layers.Conv2D(classes, 1, padding="same", name="conv_preds")(x)
        x = keras.layers.Reshape((classes,), name="reshape_2")(x)
        return keras.layers.Activation("softmax", name="predictions")(x)
    if kind == "mobilenet_v3":
        last = 1024 if NETWORKS[network_name].variant == "small" else 1280
        if config.alpha > 1.0:
            last = _depth(last * config.alpha)
        x = _pool(x, pooling, "avg_pool", keepdims=True)
        x = keras.layers.Conv2D(last, 1, padding="same", use_bias=True, name="conv_2")(x)
        x = keras.layers.Activation("hard_swish", name="conv_2_activation")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="dropout")(x)
        x = keras.layers.Conv2D(classes, 1, padding="same", name="logits")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        return keras.layers.Activation("softmax", name="predictions")(x)
    if kind == "convnext":
        x = _pool(x, pooling, "head_gap")
        x = keras.layers.LayerNormalization(epsilon=1e-6, name="head_layernorm")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="top_dropout")(x)
        return keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    # "dense": GlobalAveragePooling2D (or max) -> [Dropout] -> Dense
    x = _pool(x, pooling, "avg_pool")
    if dropout:
        x = keras.layers.Dropout(dropout, name="top_dropout")(x)
    efficient = config.architecture in ("efficientnet", "efficientnet_v2")
    return keras.layers.Dense(
        classes,
        activation="softmax",
        kernel_initializer=(
            keras.initializers.VarianceScaling(1.0 / 3.0, mode="fan_out", distribution="uniform")
            if efficient
            else "glorot_uniform"
        ),
        name="predictions",
    )(x)


def _depth(v: float, divisor: int = 8) -> int:
    """MobileNet v3's channel rounding (a multiple of 8, never 10% below ``v``)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v
