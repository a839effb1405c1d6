"""The gate's rules in process (hub/gating.py): the access form read from a card, the answers it takes, and
who passes the gate (members, accepted requests) as requests move between statuses."""

from __future__ import annotations

from typing import Any

import pytest

from agora.db.models import Repo
from agora.errors import BadRequest, Forbidden, GatedRepo, NotFound
from agora.hub import accounts, gating
from agora.hub.accounts import Principal
from agora.hub.repos import Hub

from .conftest import RID

FIELDS = {
    "Company": "text",
    "Country": "country",
    "Start": "date_picker",
    "Use": {"type": "select", "options": ["Research", {"label": "Commercial", "value": "commercial"}]},
    "I agree": "checkbox",
    "Ignored": "a-kind-the-hub-has-not",
}
GOOD = {"Company": "ACME", "Country": "France", "Start": "2026-12-06", "Use": "commercial", "I agree": "on"}


def test_form_reads_the_card_and_answers_are_checked() -> None:
    repo = Repo(
        gated="manual", card_data={"extra_gated_fields": FIELDS, "extra_gated_prompt": "Who are you?"}
    )
    f = gating.form(repo)
    assert f.prompt == "Who are you?" and f.button == "Agree and access repository"
    assert [(x.name, x.kind) for x in f.fields] == [
        ("Company", "text"),
        ("Country", "country"),
        ("Start", "date_picker"),
        ("Use", "select"),
        ("I agree", "checkbox"),
    ]
    assert f.fields[3].options == ["Research", "commercial"]
    assert gating.answers(f, {**GOOD, "extra": "dropped"}) == {**GOOD, "I agree": True}
    bad: list[tuple[dict[str, Any], str]] = [
        ({**GOOD, "I agree": "false"}, "tick"),
        ({**GOOD, "Company": "  "}, "fill in"),
        ({**GOOD, "Use": "Military"}, "not one of the choices"),
        ({**GOOD, "Company": "x" * 1001}, "too long"),
        ({**GOOD, "Company": ["a list"]}, "fill in"),
    ]
    for given, words in bad:
        with pytest.raises(BadRequest, match=words):
            gating.answers(f, given)
    assert (
        gating.form(Repo(gated="auto", card_data={"extra_gated_fields": ["not", "a", "dict"]})).fields == []
    )


def _user(hub: Hub, name: str) -> Principal:
    with hub.db.session() as s:
        return accounts.session_principal(accounts.create_user(s, name, f"{name}-password"))


def test_who_passes_as_requests_move(hub: Hub, who: Principal) -> None:
    bob, carol = _user(hub, "bob"), _user(hub, "carol")
    hub.change_settings(who, RID, None, "manual")
    with hub.db.session() as s:
        repo = hub.get(s, RID)
        assert repo is not None
        assert gating.passes_gate(s, who, repo)  # the owner
        with pytest.raises(GatedRepo) as anon:
            gating.check(s, None, repo)
        assert anon.value.extra.get("anonymous") and "Please log in" in anon.value.message
        gating.check(s, None, repo, "README.md")  # the card stays readable
        with pytest.raises(GatedRepo, match="not in the authorized list"):
            gating.check(s, bob, repo)
        assert gating.ask(s, bob, repo, {}).status == "pending"
        assert not gating.passes_gate(s, bob, repo) and gating.status_of(s, bob, repo) == "pending"
        with pytest.raises(Forbidden):  # bob is no writer
            gating.listing(s, bob, repo, "pending")
        gating.handle(s, who, repo, "bob", None, "accepted")
        assert gating.passes_gate(s, bob, repo)
        gating.handle(s, who, repo, "bob", None, "rejected", "Not now")
        assert not gating.passes_gate(s, bob, repo) and gating.rejection(s, bob, repo) == "Not now"
        assert gating.ask(s, bob, repo, {}).status == "rejected"  # asking again changes nothing decided
        with pytest.raises(BadRequest):  # a reason only with a rejection
            gating.handle(s, who, repo, "bob", None, "accepted", "why")
        with pytest.raises(NotFound):
            gating.handle(s, who, repo, "carol", None, "accepted")
        gating.grant(s, who, repo, "carol")
        assert gating.passes_gate(s, carol, repo)
        listed = {st: [r.user for r in gating.listing(s, who, repo, st)] for st in gating.STATUSES}
        assert listed == {"pending": [], "accepted": ["carol"], "rejected": ["bob"]}
