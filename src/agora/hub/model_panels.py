"""The model page's two panels of issue 18: evaluation results (from the card's `model-index`, hub/evals.py) and
"Use this model" (the snippets of hub/snippets.py, chosen from the repo's library, tags and files at `main`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ..db.models import Repo
from ..errors import HubError
from ..ids import RepoId, repo_full, repo_web_path
from . import accounts, evals, snippets
from .accounts import Principal

if TYPE_CHECKING:
    from .repos import Hub

MAX_LINKS = 50  # distinct datasets looked up to link (a card naming more shows the rest as text)


@dataclass(frozen=True)
class ModelPanels:
    evals: evals.EvalResults
    linked: dict[
        str, str
    ]  # a row's dataset id -> the web path of that dataset here, if the visitor may see it
    snippets: list[snippets.Snippet]
    endpoint_line: str  # `export HF_ENDPOINT=...`: the clients' way to this host


def panels(
    hub: Hub, who: Principal | None, repo: Repo, sha: str, tags: list[str], endpoint: str
) -> ModelPanels:
    """Both panels for a model `who` may see (the caller found it: hub/browse.overview); `endpoint` is this
    host's URL as the visitor reaches it."""
    results = evals.parse((repo.card_data or {}).get("model-index"))
    files = [e.path for e in hub.git(repo).all_files(sha)]
    with hub.db.session() as s:
        found = {d: _visible_dataset(hub, s, who, d) for d in evals.dataset_ids(results)[:MAX_LINKS]}
    linked = {d: path for d, path in found.items() if path is not None}
    facts = _facts(repo, tags, files)
    web_path = repo_web_path(repo.type, repo.namespace, repo.name)
    return ModelPanels(
        evals=results,
        linked=linked,
        snippets=snippets.choose(facts, endpoint, web_path),
        endpoint_line=snippets.endpoint_line(endpoint),
    )


def _visible_dataset(hub: Hub, s: Session, who: Principal | None, dataset_id: str) -> str | None:
    """The web path of the dataset `dataset_id` names, if it is here and `who` may see it."""
    try:
        rid = RepoId.parse_any("dataset", dataset_id)
    except HubError:  # not a repo id (a free-form `dataset.type`)
        return None
    repo = hub.get(s, rid)
    if repo is None or not accounts.can_read(s, who, repo):
        return None
    return "/" + repo_web_path(repo.type, repo.namespace, repo.name)


def _facts(repo: Repo, tags: list[str], files: list[str]) -> snippets.ModelFacts:
    derived = repo.derived or {}
    raw = derived.get("transformersInfo")
    info: dict[str, Any] = raw if isinstance(raw, dict) else {}
    bases = [
        b["id"] for b in derived.get("baseModels", []) if isinstance(b, dict) and isinstance(b.get("id"), str)
    ]
    return snippets.ModelFacts(
        repo_id=repo_full(repo.namespace, repo.name),
        library_name=repo.library_name,
        pipeline_tag=repo.pipeline_tag,
        tags=tags,
        files=files,
        auto_model=info.get("auto_model") if isinstance(info.get("auto_model"), str) else None,
        processor=info.get("processor") if isinstance(info.get("processor"), str) else None,
        base_models=bases,
    )
