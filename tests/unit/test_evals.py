"""A card's `model-index` read into the model page's evaluation rows (hub/evals.py), without a server."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from huggingface_hub.repocard_data import model_index_to_eval_results

from agora.hub import cards, evals

GOOD = """
model-index:
- name: tiny-asr
  results:
  - task: {type: automatic-speech-recognition, name: Speech Recognition}
    dataset: {type: alice/voices, name: Voices (es), config: es, split: test, revision: 5503434d}
    metrics:
    - {type: wer, value: 12.5, name: Test WER, verified: true}
    - {type: cer, value: "4.1 ± 0.2"}
  - task: {type: text-classification}
    dataset: {type: glue, name: GLUE, config: sst2}
    metrics:
    - {type: accuracy, value: 0.91, verified: false}
"""


def rows(yaml_text: str) -> list[evals.EvalRow]:
    return evals.parse(yaml.safe_load(yaml_text)["model-index"]).rows


def test_every_metric_is_a_row_with_its_task_dataset_and_verified_flag() -> None:
    r = rows(GOOD)
    assert [(x.task_label, x.dataset_name, x.metric_label, x.metric_value, x.verified) for x in r] == [
        ("Speech Recognition", "Voices (es)", "Test WER", 12.5, True),
        ("Speech Recognition", "Voices (es)", "cer", "4.1 ± 0.2", False),
        ("text-classification", "GLUE", "accuracy", 0.91, False),
    ]
    assert (r[0].dataset_type, r[0].dataset_config, r[0].dataset_split, r[0].dataset_revision) == (
        "alice/voices", "es", "test", "5503434d",
    )  # fmt: skip
    assert evals.dataset_ids(evals.parse(yaml.safe_load(GOOD)["model-index"])) == ["alice/voices", "glue"]


def test_rows_agree_with_huggingface_hub_on_a_well_formed_card() -> None:
    data = yaml.safe_load(GOOD)["model-index"]
    name, theirs = model_index_to_eval_results(data)
    ours = evals.parse(data).rows
    fields = ("task_type", "task_name", "dataset_type", "dataset_name", "dataset_config", "dataset_split",
              "dataset_revision", "metric_type", "metric_name", "metric_value")  # fmt: skip
    assert [tuple(getattr(x, f) for f in fields) for x in ours] == [
        tuple(getattr(x, f) for f in fields) for x in theirs
    ]
    assert [x.verified for x in ours] == [bool(x.verified) for x in theirs]
    assert {x.model_name for x in ours} == {name}


AWKWARD: list[Any] = [
    "a string",
    42,
    None,
    {"name": "m"},
    [None, "x", 3, {"results": []}],
    [{"name": "m", "results": "not a list"}],
    [{"name": ["m"], "results": []}],
    [{"name": "m", "results": ["x", None, {"task": "t"}]}],
    [{"name": "m", "results": [{"task": {"type": "t"}, "dataset": {"type": "d"}, "metrics": []}]}],
    [
        {
            "name": "m",
            "results": [{"task": {"type": "t"}, "dataset": "d", "metrics": [{"type": "a", "value": 1}]}],
        }
    ],
    [
        {
            "name": "m",
            "results": [{"task": {"name": "T"}, "dataset": {"type": "d", "name": "D"}, "metrics": []}],
        }
    ],
    [
        {
            "name": "m",
            "results": [{"task": {"type": "t"}, "dataset": {"type": "d", "name": "D"}, "metrics": "m"}],
        }
    ],
]


@pytest.mark.parametrize("mi", AWKWARD)
def test_malformed_model_index_gives_no_rows_and_no_error(mi: Any) -> None:
    assert evals.parse(mi).rows == []


def test_a_malformed_entry_is_skipped_and_the_rest_shown() -> None:
    ok = {"type": "accuracy", "value": 0.5}
    mi = [
        "junk",
        {"name": "m", "results": [
            {"task": {"type": "t"}, "dataset": {"type": "d", "name": "D"},
             "metrics": [ok, "junk", {"type": "f1"}, {"value": 3}, {"type": "x", "value": [1]},
                         {"type": "y", "value": {"a": 1}}, {"type": "z", "value": True}, {"type": ["t"], "value": 1}]},
            {"task": {"type": 7}, "dataset": {"type": "d", "name": "D"}, "metrics": [ok]},
        ]},
    ]  # fmt: skip
    r = evals.parse(mi).rows
    assert [(x.metric_type, x.metric_value) for x in r] == [("accuracy", 0.5)]


def test_huge_lists_are_bounded() -> None:
    metric = {"type": "accuracy", "value": 0.5}
    result = {"task": {"type": "t"}, "dataset": {"type": "d", "name": "D"}, "metrics": [metric] * 1000}
    got = evals.parse([{"name": "m", "results": [result] * 1000}])
    assert len(got.rows) == evals.MAX_ROWS and got.truncated
    junk = evals.parse(["x"] * 1_000_000)  # a million junk items: the walk stops at its budget
    assert junk.rows == [] and junk.truncated
    long = evals.parse(
        [{"name": "m", "results": [{**result, "metrics": [{"type": "a" * 10_000, "value": 1}]}]}]
    )
    assert len(long.rows[0].metric_type) == evals.MAX_TEXT


def test_the_card_parser_keeps_model_index_for_the_page() -> None:
    card = cards.parse("---" + GOOD + "---\n# tiny\n")
    assert len(evals.parse((card.data or {}).get("model-index")).rows) == 3
