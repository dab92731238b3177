"""The plugin's own tests: the zoo's conformance kit plus the forecasting task's behaviour.

Run them with the plugin installed (`pip install -e .`): `pytest tests`.
"""

from __future__ import annotations

import numpy as np
import pytest
from zoo_forecast.data import generated_series, windows
from zoo_forecast.task import ForecastingTask

import zoo
from zoo.plugin import DataError, Dataset
from zoo.testing import plugin_checks


@pytest.mark.parametrize("check", plugin_checks("forecast"))
def test_conformance(check):
    check()


def test_windows_are_cut_in_time_order():
    x, y, starts = windows(np.arange(10, dtype="float32"), lookback=4, horizon=3)
    assert x.tolist()[0] == [0, 1, 2, 3] and y.tolist()[0] == [4, 5, 6]
    assert x.tolist()[-1] == [3, 4, 5, 6] and y.tolist()[-1] == [7, 8, 9]
    assert starts == [4, 5, 6, 7]


class Options(dict):
    """A stand-in for the zoo's Config: hyper-parameters plus training options."""

    model = "forecaster"
    train = {"validation_split": 0.1, "test_split": 0.2}


def test_the_split_keeps_time_order_and_purges_overlapping_targets():
    x, y, _ = windows(generated_series(200), lookback=8, horizon=3)
    parts = ForecastingTask().split_indices(Dataset(x=x, y=y), Options(horizon=3), seed=0)
    train, validation, test = parts["train"], parts["validation"], parts["test"]
    assert train.max() < validation.min() and validation.max() < test.min()
    assert test.max() == len(x) - 1  # the latest windows are the test
    # the 2 (horizon - 1) windows whose targets overlap the validation's are left out
    assert validation.min() - train.max() == 3


def test_a_target_of_another_horizon_is_refused():
    task = ForecastingTask()
    data = Dataset(x=np.zeros((5, 8), "float32"), y=np.zeros((5, 4), "float32"), name="w")
    with pytest.raises(DataError, match=r"horizon 4 but model 'forecaster' forecasts 3 steps"):
        task.check_data(data, Options(horizon=3))


def test_the_last_value_baseline_uses_the_task_metric_names():
    task = ForecastingTask()
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[2.0, 2.0], [4.0, 6.0]])

    class Split:
        test = (x, y)

    found = task.baselines(Split(), {"huber_delta": 1.0})
    assert found["last_value_mae"] == pytest.approx(0.5)  # errors 0, 0, 0, 2
    assert found["last_value_loss"] == pytest.approx(1.5 / 4)  # Huber: 0, 0, 0, 1.5
    assert found["last_value_smape"] == pytest.approx(200 * (2 / 10) / 4)


def test_predict_forecasts_past_the_end_of_a_csv(tmp_path):
    series = generated_series(60)
    path = tmp_path / "series.csv"
    path.write_text("day,value\n" + "".join(f"d{i},{v}\n" for i, v in enumerate(series)))
    rows = zoo.predict("forecaster", path)
    # 60 values, lookback 48, horizon 12: 1 complete window, then 12 that reach past the end
    assert [row["start"] for row in rows] == list(range(48, 61))
    assert list(rows[-1]) == ["index", "start"] + [f"step_{i}" for i in range(1, 13)]
    assert "probability" not in rows[0]
