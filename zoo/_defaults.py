"""The core's own plugin: default ``zoo_train`` and ``zoo_export`` implementations.

Registered ``trylast`` so that an architecture plugin may override either hook for its own
models; everything else uses these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.hookspecs import hookimpl

PLUGIN_NAME = "zoo.core"


@hookimpl(trylast=True)
def zoo_train(model: Any, splits: Any, config: Any, callbacks: list[Any], initial_epoch: int):
    return model.fit(
        splits.train,
        validation_data=splits.validation,
        epochs=config.train["epochs"],
        initial_epoch=initial_epoch,
        steps_per_epoch=splits.steps_per_epoch,
        shuffle=False,  # the stream is already shuffled, per epoch, by the seed
        callbacks=callbacks,
        verbose=0,
    )


@hookimpl(trylast=True)
def zoo_export(model: Any, path: Path, format: str, config: Any) -> Path | None:
    from zoo.exporting import write_builtin_format

    return write_builtin_format(model, path, format, config)
