"""The core's own plugin, hosted like any other under the reserved name ``zoo``.

It registers the built-in tasks (``zoo_tasks``) and export formats (``zoo_export_formats``)
through the same hooks a third party uses, and the default ``zoo_train`` and ``zoo_export``
(``trylast``, so an architecture plugin may override either for its own models). Its
registry.toml declares the tasks and hooks, so listing needs no import of this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.hookspecs import hookimpl


@hookimpl
def zoo_tasks() -> dict[str, Any]:
    from zoo.tasks.classification import ClassificationTask
    from zoo.tasks.regression import ReconstructionTask, RegressionTask
    from zoo.tasks.retrieval import RetrievalTask

    return {
        task.name: task
        for task in (ClassificationTask(), RegressionTask(), ReconstructionTask(), RetrievalTask())
    }


@hookimpl
def zoo_export_formats() -> list[Any]:
    from zoo.exporting.builtin import builtin_formats

    return builtin_formats()


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
def zoo_export(
    model: Any, path: Path, format: str, config: Any, batch_size: int | None
) -> Path | None:
    from zoo.exporting.builtin import write_builtin_format

    return write_builtin_format(model, path, format, config, batch_size)
