"""The training options' optimizer names as Keras optimizers (public Keras API only).

``make_optimizer`` picks the optimizer by name and applies the learning rate, the optional
linear warm-up (a Keras ``CosineDecay`` schedule) and ``clipnorm``; ``build_optimizer``
creates its variables at compile time. Every optimizer is Keras' own, unmodified: the zoo
used to fuse Adam's update into one ``ResourceApplyAdam`` op per variable, but that relied
on private Keras internals and was removed.
"""

from __future__ import annotations

from typing import Any


def make_optimizer(config: Any) -> Any:
    """The optimizer named by ``config.train`` (learning rate, warm-up and clipnorm applied)."""
    import keras

    classes = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
        "adagrad": keras.optimizers.Adagrad,
    }
    clipnorm = config.train.get("clipnorm") or None  # 0 -> no clipping
    return classes[config.train["optimizer"]](
        learning_rate=learning_rate(
            config.train["learning_rate"],
            config.train.get("warmup_steps"),
            config.train.get("decay_steps"),
        ),
        clipnorm=clipnorm,
    )


def learning_rate(value: float, warmup_steps: int | None, decay_steps: int | None = None) -> Any:
    """``value``, or a linear warm-up from ``value / warmup_steps`` to it, then constant, or
    with ``decay_steps`` falling to 0 along a cosine over that many steps (then 0).

    Built from Keras' own CosineDecay (``alpha=1`` keeps the rate constant after the
    warm-up), so a compiled model saved with it loads without the zoo.
    """
    if not warmup_steps and not decay_steps:
        return value
    import keras

    if not warmup_steps:
        return keras.optimizers.schedules.CosineDecay(value, decay_steps=decay_steps)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=value / warmup_steps,
        decay_steps=decay_steps or 1,
        alpha=0.0 if decay_steps else 1.0,
        warmup_target=value,
        warmup_steps=warmup_steps,
    )


def build_optimizer(model: Any) -> None:
    """Create the optimizer's variables now rather than inside the first traced step.

    Without a distribution strategy Keras defers this to the first trace of the train
    function; creating variables there makes TensorFlow trace the step a second time,
    which costs 0.3 s (cnn) to 3 s (transformer) per run (benchmarks/README.md).
    """
    if model.built and model.optimizer is not None:
        model.optimizer.build(model.trainable_variables)
