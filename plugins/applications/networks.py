"""The image-classification networks of ``keras.applications``, as data (no Keras import).

One rule names them: lower case, words joined by underscores, version and size as separate
words (``resnet50_v2``, ``mobilenet_v3_small``, ``efficientnet_v2_s``). Each zoo model is a
preset of its family's architecture (``registry.toml`` next to this file); the family's
``variant`` hyper-parameter picks the network inside the family.

``preprocessing`` is the family's ``preprocess_input`` mode, applied by layers inside the
model so that it takes RGB pixels in [0, 255] (and exports carry the preprocessing):

* ``caffe`` - RGB to BGR, minus the ImageNet mean per channel (ResNet v1, VGG);
* ``tf`` - scaled to [-1, 1] (ResNet v2, Inception, Xception, MobileNet v1/v2, NASNet);
* ``torch`` - scaled to [0, 1], minus the ImageNet mean, divided by its standard deviation
  (DenseNet; and ConvNeXt, EfficientNetV2 B0-B3, whose own ``include_preprocessing`` does
  the same with a ``Normalization`` layer - see ``model.py`` for why it is replaced);
* ``tf128`` - ``x / 128 - 1`` (EfficientNetV2 S/M/L's own ``include_preprocessing``);
* ``keras`` - the network's own ``include_preprocessing`` layer (MobileNet v3: a
  ``Rescaling`` to [-1, 1]);
* ``efficientnet`` - EfficientNet's built-in ``Rescaling`` + ``Normalization``, plus the
  scaling Keras adds after them for its ImageNet weights (see ``model.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Network:
    name: str  # the zoo model name
    function: str  # keras.applications.<function>
    family: str  # the zoo architecture
    variant: str  # value of the family's `variant` hyper-parameter ("" if it has none)
    size: int  # the ImageNet input size (height = width)
    dropout: float = 0.0  # Keras' default dropout before the classifier
    preprocessing: str = ""  # when it differs from the family's

    @property
    def min_size(self) -> int:
        return FAMILIES[self.family].min_size


@dataclass(frozen=True)
class Family:
    name: str
    preprocessing: str  # caffe | tf | torch | tf128 | keras | efficientnet
    head: str  # dense | vgg | mobilenet | mobilenet_v3 | convnext
    min_size: int = 32
    alphas: tuple[float, ...] = ()  # width multipliers (MobileNets)
    head_layers: tuple[str, ...] = ("predictions",)  # what --freeze backbone trains first
    keras_flag: bool = False  # the Keras function takes include_preprocessing


FAMILIES = {
    f.name: f
    for f in (
        Family("resnet", "caffe", "dense"),
        Family("resnet_v2", "tf", "dense"),
        Family("vgg", "caffe", "vgg", head_layers=("fc1", "fc2", "predictions")),
        Family("densenet", "torch", "dense"),
        Family("efficientnet", "efficientnet", "dense"),
        Family("efficientnet_v2", "torch", "dense", keras_flag=True),
        Family(
            "convnext",
            "torch",
            "convnext",
            head_layers=("head_layernorm", "predictions"),
            keras_flag=True,
        ),
        Family("inception_v3", "tf", "dense", min_size=75),
        Family("inception_resnet_v2", "tf", "dense", min_size=75),
        Family("xception", "tf", "dense", min_size=71),
        Family(
            "mobilenet",
            "tf",
            "mobilenet",
            alphas=(0.25, 0.5, 0.75, 1.0),
            head_layers=("conv_preds",),
        ),
        Family("mobilenet_v2", "tf", "dense", alphas=(0.35, 0.5, 0.75, 1.0, 1.3, 1.4)),
        Family(
            "mobilenet_v3",
            "keras",
            "mobilenet_v3",
            alphas=(0.75, 1.0),
            head_layers=("conv_2", "logits"),
            keras_flag=True,
        ),
        Family("nasnet", "tf", "dense"),
    )
}

_EFFICIENTNET = (
    ("b0", 224, 0.2),
    ("b1", 240, 0.2),
    ("b2", 260, 0.3),
    ("b3", 300, 0.3),
    ("b4", 380, 0.4),
    ("b5", 456, 0.4),
    ("b6", 528, 0.5),
    ("b7", 600, 0.5),
)
_EFFICIENTNET_V2 = (
    ("b0", "B0", 224),
    ("b1", "B1", 240),
    ("b2", "B2", 260),
    ("b3", "B3", 300),
    ("s", "S", 384),
    ("m", "M", 480),
    ("l", "L", 480),
)
_CONVNEXT = (
    ("tiny", "Tiny"),
    ("small", "Small"),
    ("base", "Base"),
    ("large", "Large"),
    ("xlarge", "XLarge"),
)

NETWORKS: dict[str, Network] = {
    n.name: n
    for n in (
        *(Network(f"convnext_{v}", f"ConvNeXt{k}", "convnext", v, 224) for v, k in _CONVNEXT),
        *(
            Network(f"densenet{d}", f"DenseNet{d}", "densenet", str(d), 224)
            for d in (121, 169, 201)
        ),
        *(
            Network(f"efficientnet_{v}", f"EfficientNet{v.upper()}", "efficientnet", v, s, p)
            for v, s, p in _EFFICIENTNET
        ),
        *(
            Network(
                f"efficientnet_v2_{v}",
                f"EfficientNetV2{k}",
                "efficientnet_v2",
                v,
                s,
                0.2,
                "torch" if v.startswith("b") else "tf128",
            )
            for v, k, s in _EFFICIENTNET_V2
        ),
        Network("inception_resnet_v2", "InceptionResNetV2", "inception_resnet_v2", "", 299),
        Network("inception_v3", "InceptionV3", "inception_v3", "", 299),
        Network("mobilenet", "MobileNet", "mobilenet", "", 224, 0.001),
        Network("mobilenet_v2", "MobileNetV2", "mobilenet_v2", "", 224),
        Network("mobilenet_v3_small", "MobileNetV3Small", "mobilenet_v3", "small", 224, 0.2),
        Network("mobilenet_v3_large", "MobileNetV3Large", "mobilenet_v3", "large", 224, 0.2),
        Network("nasnet_mobile", "NASNetMobile", "nasnet", "mobile", 224),
        Network("nasnet_large", "NASNetLarge", "nasnet", "large", 331),
        *(Network(f"resnet{d}", f"ResNet{d}", "resnet", str(d), 224) for d in (50, 101, 152)),
        *(
            Network(f"resnet{d}_v2", f"ResNet{d}V2", "resnet_v2", str(d), 224)
            for d in (50, 101, 152)
        ),
        *(Network(f"vgg{d}", f"VGG{d}", "vgg", str(d), 224) for d in (16, 19)),
        Network("xception", "Xception", "xception", "", 299),
    )
}


def network(family: str, variant: str) -> Network:
    """The network of ``family`` picked by its ``variant`` hyper-parameter."""
    for net in NETWORKS.values():
        if net.family == family and net.variant == variant:
            return net
    raise KeyError(f"no network '{variant}' in family '{family}'")


def variants(family: str) -> list[str]:
    """The family's ``variant`` values, the default (its smallest network) first."""
    return [n.variant for n in NETWORKS.values() if n.family == family and n.variant]


def default_network(family: str) -> Network:
    """The network a family's hyper-parameter defaults describe (its first, smallest one)."""
    return next(n for n in NETWORKS.values() if n.family == family)
