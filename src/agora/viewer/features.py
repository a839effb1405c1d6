"""Arrow schema -> the datasets `Features` JSON the viewer API returns (`{"dtype","_type":"Value"}`, ...).

When the parquet came from `push_to_hub`, its schema metadata (key `huggingface`) already holds the
features (ClassLabel names, Image, Audio): those win. Otherwise they are derived from the Arrow types,
and a `{bytes, path}` struct named like a media column becomes Image or Audio.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

_SIMPLE = {
    pa.int8(): "int8",
    pa.int16(): "int16",
    pa.int32(): "int32",
    pa.int64(): "int64",
    pa.uint8(): "uint8",
    pa.uint16(): "uint16",
    pa.uint32(): "uint32",
    pa.uint64(): "uint64",
    pa.float16(): "float16",
    pa.float32(): "float32",
    pa.float64(): "float64",
    pa.bool_(): "bool",
    pa.string(): "string",
    pa.large_string(): "large_string",
    pa.binary(): "binary",
    pa.large_binary(): "large_binary",
    pa.date32(): "date32",
    pa.date64(): "date64",
    pa.null(): "null",
}


def _is_media(t: pa.DataType) -> bool:
    return pa.types.is_struct(t) and {t.field(i).name for i in range(t.num_fields)} == {"bytes", "path"}


def feature_of(t: pa.DataType, name: str = "") -> Any:
    if t in _SIMPLE:
        return {"dtype": _SIMPLE[t], "_type": "Value"}
    if pa.types.is_timestamp(t):
        return {"dtype": f"timestamp[{t.unit}{', tz=' + t.tz if t.tz else ''}]", "_type": "Value"}
    if pa.types.is_time(t) or pa.types.is_duration(t) or pa.types.is_decimal(t):
        return {"dtype": str(t), "_type": "Value"}
    if pa.types.is_dictionary(t):
        return feature_of(t.value_type, name)
    if _is_media(t):
        return {"_type": "Audio" if "audio" in name.lower() else "Image"}
    if pa.types.is_struct(t):
        return {t.field(i).name: feature_of(t.field(i).type, t.field(i).name) for i in range(t.num_fields)}
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return {"feature": feature_of(t.value_type, name), "_type": "List"}
    if pa.types.is_fixed_size_list(t):
        return {"feature": feature_of(t.value_type, name), "length": t.list_size, "_type": "List"}
    return {"dtype": str(t), "_type": "Value"}


def features_of(schema: pa.Schema) -> dict[str, Any]:
    meta = (schema.metadata or {}).get(b"huggingface")
    if meta:
        try:
            hf = json.loads(meta).get("info", {}).get("features")
            if isinstance(hf, dict) and set(hf) == set(schema.names):
                return hf
        except ValueError:
            pass
    return {f.name: feature_of(f.type, f.name) for f in schema}


def kind(feature: Any) -> str:
    """A cell kind for rendering: image, audio, class_label, list, dict, string, number, bool, other."""
    if isinstance(feature, dict):
        return _dict_kind(feature)
    if isinstance(feature, list):
        return "list"
    return "other"


def _dict_kind(feature: dict[str, Any]) -> str:
    """The kind of a feature written as a dict: by its `_type` (none: a dict of features)."""
    t = feature.get("_type")
    if t == "Image":
        return "image"
    if t == "Audio":
        return "audio"
    if t == "ClassLabel":
        return "class_label"
    if t in ("List", "Sequence", "LargeList"):
        return "list"
    if t == "Value":
        return _value_kind(str(feature.get("dtype")))
    if t is None:
        return "dict"
    return "other"


def _value_kind(dtype: str) -> str:
    """The kind of a Value feature of this dtype."""
    if "string" in dtype:
        return "string"
    if dtype.startswith(("int", "uint", "float")):
        return "number"
    if dtype == "bool":
        return "bool"
    return "other"
