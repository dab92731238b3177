"""The training options' optimizer names as Keras optimizers, with Adam's update fused.

Keras' Adam updates each variable with ~38 graph ops, recomputing the step's bias
corrections for every variable; for the transformer that is 1,390 of the train step's
2,619 ops. TensorFlow's ``ResourceApplyAdam`` kernel does the same update (the same
formula: ``lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)``, epsilon outside the square root) in
one op, so the step traces and starts faster: 0.13-0.28 s less per run for the small
models, 0.53 s for the transformer (benchmarks/train_step_trace.py). This module is
TensorFlow-specific on purpose.
"""

from __future__ import annotations

from functools import partial
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
    optimizer = classes[config.train["optimizer"]](
        learning_rate=learning_rate(
            config.train["learning_rate"], config.train.get("warmup_steps")
        ),
        clipnorm=clipnorm,
    )
    return fuse_adam_updates(optimizer)


def learning_rate(value: float, warmup_steps: int | None) -> Any:
    """``value``, or a linear warm-up from ``value / warmup_steps`` to it, then constant.

    Built from Keras' own CosineDecay (``alpha=1`` keeps the rate constant after the
    warm-up), so a compiled model saved with it loads without the zoo.
    """
    if not warmup_steps:
        return value
    import keras

    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=value / warmup_steps,
        decay_steps=1,
        alpha=1.0,
        warmup_target=value,
        warmup_steps=warmup_steps,
    )


def fuse_adam_updates(optimizer: Any) -> Any:
    """Make an Adam or AdamW optimizer update each float32 variable with one fused op.

    The instance keeps its class, so a model saved with it loads without the zoo. The
    update follows Keras' own structure (gradients all-reduced across replicas, then one
    update per variable and device), so it works the same under a distribution strategy.
    AMSGrad and other optimizers are returned unchanged, and so is an optimizer whose
    Keras version lacks the internals this relies on (it then trains with Keras' update).
    """
    import keras

    internals = ("_backend_update_step", "_all_reduce_sum_gradients", "_get_variable_index")
    if (
        type(optimizer) in (keras.optimizers.Adam, keras.optimizers.AdamW)
        and not optimizer.amsgrad
        and all(hasattr(optimizer, name) for name in internals)
    ):
        optimizer._backend_update_step = partial(
            _fused_adam_step, optimizer, keras_step=optimizer._backend_update_step
        )
    return optimizer


def build_optimizer(model: Any) -> None:
    """Create the optimizer's variables now rather than inside the first traced step.

    Without a distribution strategy Keras defers this to the first trace of the train
    function; creating variables there makes TensorFlow trace the step a second time,
    which costs 0.3 s (cnn) to 3 s (transformer) per run (benchmarks/README.md).
    """
    if model.built and model.optimizer is not None:
        model.optimizer.build(model.trainable_variables)


def _fused_adam_step(
    optimizer: Any, grads: list[Any], variables: list[Any], lr: Any, keras_step: Any
) -> None:
    import keras
    import tensorflow as tf

    if not (hasattr(optimizer, "_momentums") and hasattr(optimizer, "_velocities")):
        keras_step(grads, variables, lr)
        return
    variables = [v.value if isinstance(v, keras.Variable) else v for v in variables]
    grads_and_vars = optimizer._all_reduce_sum_gradients(list(zip(grads, variables, strict=True)))

    @tf.autograph.experimental.do_not_convert
    def keras_update(variable: Any, grad: Any, lr: Any) -> Any:
        return optimizer.update_step(grad, variable, lr)

    def update_all(strategy: Any, grads_and_vars: list[Any], lr: Any) -> None:
        step = tf.cast(optimizer.iterations + 1, "float32")
        beta_1 = tf.constant(optimizer.beta_1, "float32")
        beta_2 = tf.constant(optimizer.beta_2, "float32")
        shared = {
            "beta1_power": tf.pow(beta_1, step),
            "beta2_power": tf.pow(beta_2, step),
            "beta1": beta_1,
            "beta2": beta_2,
            "epsilon": tf.constant(optimizer.epsilon, "float32"),
        }
        # Plain graph code: under an autograph-enabled tf.function (the distributed loop),
        # strategy.extended.update would otherwise convert the function once per variable.
        apply_adam = tf.autograph.experimental.do_not_convert(_apply_adam)
        for grad, variable in grads_and_vars:
            if variable.dtype != tf.float32 or isinstance(grad, tf.IndexedSlices):
                # Keras squares an embedding's sparse gradient slice by slice (repeated
                # ids summed after squaring); densifying first would change the result.
                strategy.extended.update(variable, keras_update, args=(grad, lr), group=False)
                continue
            index = optimizer._get_variable_index(variable)
            moments = (optimizer._momentums[index].value, optimizer._velocities[index].value)
            strategy.extended.update(
                variable, apply_adam, args=(*moments, grad, lr, shared), group=False
            )

    tf.__internal__.distribute.interim.maybe_merge_call(
        update_all, optimizer._distribution_strategy, grads_and_vars, lr
    )


def _apply_adam(variable: Any, m: Any, v: Any, grad: Any, lr: Any, shared: dict) -> Any:
    """One device's update (its own copies of the variable and moments under a strategy)."""
    import tensorflow as tf

    return tf.raw_ops.ResourceApplyAdam(
        var=variable.handle,
        m=m.handle,
        v=v.handle,
        grad=grad,
        lr=tf.cast(lr, "float32"),
        **shared,
    )
