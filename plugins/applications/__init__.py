"""The image-classification networks of ``keras.applications`` as zoo models: the
``applications`` plugin.

Forty networks (ResNet, VGG, DenseNet, EfficientNet and EfficientNetV2, ConvNeXt, Inception,
Xception, MobileNet v1-v3, NASNet) in one architecture per family, declared in
``registry.toml`` next to this file with their ImageNet weights. The model lives in
``model.py`` (``build``) and the data in ``data.py`` (``load``); both are imported only when a
hook is called, so listing models never imports Keras.
"""

from zoo.plugin import lazy_hooks

zoo_build, zoo_dataset = lazy_hooks(__name__)
