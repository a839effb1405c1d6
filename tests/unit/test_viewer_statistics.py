"""The viewer's /statistics over a float column holding NaN and infinities: figures of the finite values."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from agora.viewer.query import Shard, statistics


def test_nan_and_infinity_are_left_out_of_a_float_column(tmp_path: Path) -> None:
    values = [1.0, 2.0, math.nan, 3.0, math.inf, -math.inf, None, 4.0]
    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"x": pa.array(values, pa.float64())}), path)
    features = {"x": {"dtype": "float64", "_type": "Value"}}
    [col] = statistics([Shard(f"nan-test-{tmp_path.name}", str(path), len(values))], features, len(values))
    s = col["column_statistics"]
    assert (s["min"], s["max"], s["mean"], s["median"]) == (1.0, 4.0, 2.5, 2.5)
    assert s["nan_count"] == 1  # the Hub's name for the missing values (the None)
    assert s["histogram"]["hist"] == [1, 0, 0, 1, 0, 0, 1, 0, 0, 1]
    assert s["histogram"]["bin_edges"][0] == 1.0 and s["histogram"]["bin_edges"][-1] == 4.0
