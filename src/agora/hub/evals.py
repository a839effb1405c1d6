"""A model card's evaluation results: its `model-index` metadata read into the rows of the model page's panel.

The format is the Hub's (hub-docs modelcard.md): `model-index: [{name, results: [{task: {type, name},
dataset: {type, name, config, split, revision}, metrics: [{type, value, name, verified}]}]}]`, one row per
metric. huggingface_hub reads the same list (`ModelCardData.eval_results`) all or nothing: one malformed
entry and it drops every result. The page is more forgiving: a malformed model, result or metric is skipped
and the rest is shown, and the walk is bounded (a card may be large), so no card makes the page fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_ROWS = 200  # rows the panel shows; a card listing more is cut (the panel says so)
MAX_VISITS = 5000  # list items the walk looks at in all, well-formed or not
MAX_TEXT = 200  # characters of a name or value shown


@dataclass(frozen=True)
class EvalRow:
    """One metric of one result, with the fields huggingface_hub's `EvalResult` carries for it."""

    model_name: str
    task_type: str
    task_name: str | None
    dataset_type: str
    dataset_name: str
    dataset_config: str | None
    dataset_split: str | None
    dataset_revision: str | None
    metric_type: str
    metric_name: str | None
    metric_value: str | int | float
    verified: bool

    @property
    def task_label(self) -> str:
        return self.task_name or self.task_type

    @property
    def metric_label(self) -> str:
        return self.metric_name or self.metric_type

    @property
    def group_key(self) -> tuple[str | None, ...]:
        """What the rows of one result share: the panel shows it once, above their metrics."""
        return (self.model_name, self.task_type, self.task_name, self.dataset_type, self.dataset_name,
                self.dataset_config, self.dataset_split, self.dataset_revision)  # fmt: skip


@dataclass(frozen=True)
class EvalResults:
    rows: list[EvalRow]
    truncated: bool  # the card lists more than MAX_ROWS rows (or more than the walk looks at)

    @property
    def groups(self) -> list[list[EvalRow]]:
        """The rows in runs of the same task and dataset, in the card's order (a run per result, usually)."""
        out: list[list[EvalRow]] = []
        for r in self.rows:
            if out and out[-1][0].group_key == r.group_key:
                out[-1].append(r)
            else:
                out.append([r])
        return out


class _Budget:
    """Counts the list items the walk visits, so a huge or deeply repeated model-index stays cheap."""

    def __init__(self) -> None:
        self.left = MAX_VISITS
        self.cut = False

    def take(self, items: list[Any]) -> list[Any]:
        if len(items) > self.left:
            self.cut = True
        kept = items[: max(self.left, 0)]
        self.left -= len(kept)
        return kept


def _text(v: Any) -> str | None:
    """A required or optional string field: a non-empty string, bounded; anything else is missing."""
    return v[:MAX_TEXT] if isinstance(v, str) and v.strip() else None


def _value(v: Any) -> str | int | float | None:
    """A metric's value: a number or a string ("20.0 ± 1.2"); lists, mappings, booleans and nulls are not."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return v
    return _text(v)


def parse(model_index: Any) -> EvalResults:
    """The panel's rows from a card's `model-index` (any YAML value: what is not the Hub's shape is skipped)."""
    rows: list[EvalRow] = []
    budget = _Budget()
    models = model_index if isinstance(model_index, list) else []
    for model in budget.take(models):
        name = _text(model.get("name")) if isinstance(model, dict) else None
        results = model.get("results") if isinstance(model, dict) else None
        if name is None or not isinstance(results, list):
            continue
        for result in budget.take(results):
            rows += _result_rows(name, result, budget)
            if len(rows) > MAX_ROWS:
                return EvalResults(rows[:MAX_ROWS], True)
    return EvalResults(rows, budget.cut)


def _result_rows(model_name: str, result: Any, budget: _Budget) -> list[EvalRow]:
    """The rows of one result: none unless it has a task type, a dataset type and name, and a metric list."""
    task = result.get("task") if isinstance(result, dict) else None
    ds = result.get("dataset") if isinstance(result, dict) else None
    metrics = result.get("metrics") if isinstance(result, dict) else None
    if not isinstance(task, dict) or not isinstance(ds, dict) or not isinstance(metrics, list):
        return []
    task_type, ds_type, ds_name = _text(task.get("type")), _text(ds.get("type")), _text(ds.get("name"))
    if task_type is None or ds_type is None or ds_name is None:
        return []
    out = []
    for m in budget.take(metrics):
        metric_type = _text(m.get("type")) if isinstance(m, dict) else None
        value = _value(m.get("value")) if isinstance(m, dict) else None
        if metric_type is None or value is None:
            continue
        out.append(
            EvalRow(
                model_name=model_name,
                task_type=task_type,
                task_name=_text(task.get("name")),
                dataset_type=ds_type,
                dataset_name=ds_name,
                dataset_config=_text(ds.get("config")),
                dataset_split=_text(ds.get("split")),
                dataset_revision=_text(ds.get("revision")),
                metric_type=metric_type,
                metric_name=_text(m.get("name")),
                metric_value=value,
                verified=m.get("verified") is True,
            )
        )
    return out


def dataset_ids(results: EvalResults) -> list[str]:
    """The distinct dataset ids the rows name (their `dataset.type`), in order, for the page to link."""
    return list(dict.fromkeys(r.dataset_type for r in results.rows))
