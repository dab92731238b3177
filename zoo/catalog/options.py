"""Training options owned by the runner (as opposed to an architecture's hyper-parameters).

A model preset may change their defaults in its registry entry (``train = {epochs = 12}``);
users change them with ``--epochs``/``--batch-size`` or ``--set key=value``.
"""

from __future__ import annotations

from zoo.catalog.hparams import HParam

TRAIN_OPTIONS: dict[str, HParam] = {
    spec.name: spec
    for spec in (
        HParam("epochs", "int", 10, "maximum number of epochs", min=0, max=100000),
        HParam("batch_size", "int", 32, "examples per training step", min=1, max=1 << 20),
        HParam(
            "optimizer",
            "str",
            "adam",
            "optimizer",
            choices=("adam", "adamw", "sgd", "rmsprop", "adagrad"),
        ),
        HParam("learning_rate", "float", 1e-3, "optimizer learning rate", min=1e-8, max=10.0),
        HParam("clipnorm", "float", 0.0, "clip each gradient to this L2 norm (0 = off)", min=0.0),
        HParam(
            "warmup_steps",
            "int",
            0,
            "steps over which the learning rate rises linearly to its value (0 = off)",
            min=0,
        ),
        HParam(
            "decay_steps",
            "int",
            0,
            "steps (after the warm-up) over which the learning rate falls to 0 along a cosine "
            "(0 = constant)",
            min=0,
        ),
        HParam("early_stopping", "bool", True, "stop when validation loss stops improving"),
        HParam("patience", "int", 3, "epochs without improvement before stopping", min=1),
        HParam("validation_split", "float", 0.1, "share of data for validation", min=0, max=0.5),
        HParam("test_split", "float", 0.2, "share of data held out for the test", min=0, max=0.5),
        # XLA measured slower on CPU for every built-in model (benchmarks/README.md).
        HParam("jit_compile", "str", "off", "XLA compilation", choices=("auto", "on", "off")),
        HParam(
            "steps_per_execution", "int", 1, "training steps per compiled call", min=1, max=4096
        ),
        HParam("max_examples", "int", 0, "use at most this many examples (0 = all)", min=0),
        HParam(
            "data_cache",
            "str",
            "auto",
            "decoded files in memory for the whole run (memory), read from disk every epoch "
            "(stream), or memory when they take at most 256 MB (auto)",
            choices=("auto", "memory", "stream"),
        ),
        HParam(
            "skip_unreadable",
            "bool",
            False,
            "leave out files that cannot be decoded (checked before training, counted) "
            "instead of stopping with an error",
        ),
        HParam(
            "freeze",
            "str",
            "none",
            "fine-tuning: train only the head first (backbone), or for the whole run "
            "(all-but-head)",
            choices=("none", "backbone", "all-but-head"),
        ),
        HParam(
            "freeze_epochs",
            "int",
            3,
            "fine-tuning: epochs with the backbone frozen before everything trains (backbone)",
            min=0,
        ),
        HParam(
            "finetune_learning_rate",
            "float",
            0.0,
            "fine-tuning: learning rate once the backbone is unfrozen (0 = learning_rate / 10)",
            min=0.0,
            max=10.0,
        ),
        HParam(
            "strategy",
            "str",
            "default",
            "tf.distribute strategy (multi-worker reads TF_CONFIG)",
            choices=("default", "mirrored", "multi-worker"),
        ),
    )
}
