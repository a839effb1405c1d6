"""Issue 18's details, in process: count plurals, the icon sprite, a Markdown file's YAML block, and a revert
that would change nothing refused by the commit service (the browser side: tests/e2e/test_first_steps.py)."""

from __future__ import annotations

import pytest

from agora.errors import Conflict
from agora.http.web import render
from agora.http.web.base import HERE
from agora.http.web.files import front_matter
from agora.hub.accounts import Principal
from agora.hub.commits import CommitOperationAdd, create_commit, revert_to
from agora.hub.repos import Hub

from .conftest import RID


def test_plural() -> None:
    assert render.plural(1, "file") == "1 file"
    assert render.plural(2, "file") == "2 files"
    assert render.plural(0, "commit") == "0 commits"
    assert render.plural(None, "like") == "0 likes"
    assert render.plural(1234, "row") == "1,234 rows"
    assert render.plural(2, "entry") == "2 entries"
    assert render.plural(3, "person", "people") == "3 people"


def test_every_icon_is_in_the_sprite() -> None:
    sprite = (HERE / "static" / "icons.svg").read_text()
    for name in render.ICONS:
        assert f'<symbol id="{name}"' in sprite
        html = str(render.icon(name))
        assert html.startswith("<svg ") and f'href="/static/icons.svg#{name}"' in html
        assert 'width="16"' in html and 'aria-hidden="true"' in html
    assert 'role="img" aria-label="Copy &lt;it&gt;"' in str(render.icon("copy", "Copy <it>"))
    with pytest.raises(ValueError):
        render.icon("nope")


def test_front_matter() -> None:
    assert front_matter("---\nlicense: mit\n---\n# T\n") == "license: mit"
    assert front_matter("# T\n---\nx: 1\n---\n") is None
    assert front_matter("---\nlicense: mit\n") is None  # never closed
    assert front_matter("") is None


def test_a_revert_that_changes_nothing_is_refused(hub: Hub, who: Principal) -> None:
    first = create_commit(hub, who, RID, [CommitOperationAdd("a.txt", b"one")], summary="one").oid
    create_commit(hub, who, RID, [CommitOperationAdd("a.txt", b"two")], summary="two")
    reverted = revert_to(hub, who, RID, "main", first).oid
    git = hub.git(hub.open_repo(None, RID))
    assert git.tree_of(reverted) == git.tree_of(first)
    with pytest.raises(Conflict, match=f"Nothing to revert: main already has the files of {first[:7]}"):
        revert_to(hub, who, RID, "main", first)
    with pytest.raises(Conflict):
        revert_to(hub, who, RID, "main", reverted)  # the head itself
    assert git.resolve("main") == reverted
