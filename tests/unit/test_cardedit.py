"""The card editor's rewrite of README front matter (hub/cardedit.py): only changed fields are written, every
other key keeps its text and place, the body is kept, and the problems are the commit's own."""

from __future__ import annotations

import pytest

from agora.errors import BadRequest
from agora.hub import cardedit, commits

CARD = (
    "---\n"
    "# a comment on top\n"
    "license: mit  # why mit\n"
    "custom:\n"
    "  nested: [1, 2]\n"
    "\n"
    "# about the widget\n"
    "widget:\n"
    "  - text: Hello\n"
    "    example_title: Greeting\n"
    "  - src: cat.png\n"
    "when: 2024-01-02\n"
    "---\n"
    "# Title\n"
    "\n"
    "Body   with  spaces\n"
)


def start(text: str, repo_type: str = "model") -> cardedit.Edit:
    return cardedit.edit(text, repo_type, {}, {})


def test_changed_fields_rewrite_only_their_keys() -> None:
    s = start(CARD)
    assert s.ok and s.base["license"] == "mit" and s.base["widget"] == "Hello"
    e = cardedit.edit(
        CARD,
        "model",
        {**s.base, "license": "Apache-2.0", "language": "Spanish, vi", "widget": "Hello\nBye"},
        s.base,
    )
    assert e.ok, e.errors
    assert e.text == (
        "---\n"
        "# a comment on top\n"
        "license: apache-2.0\n"
        "custom:\n"
        "  nested: [1, 2]\n"
        "\n"
        "# about the widget\n"
        "widget:\n"
        "  - src: cat.png\n"
        "  - text: Hello\n"
        "    example_title: Greeting\n"
        "  - text: Bye\n"
        "when: 2024-01-02\n"
        "language:\n"
        "  - es\n"
        "  - vi\n"
        "---\n"
        "# Title\n"
        "\n"
        "Body   with  spaces\n"
    )
    assert e.base["language"] == "es, vi"


def test_unchanged_fields_keep_the_text_and_empty_fields_remove_keys() -> None:
    s = start(CARD)
    assert cardedit.edit(CARD, "model", dict(s.base), s.base).text == CARD
    e = cardedit.edit(CARD, "model", {**s.base, "license": "", "widget": ""}, s.base)
    assert "license:" not in e.text and "custom:\n  nested: [1, 2]\n" in e.text
    assert "widget:\n  - src: cat.png\nwhen:" in e.text  # the examples that are not text stay
    assert e.text.endswith("---\n# Title\n\nBody   with  spaces\n")


def test_a_card_without_front_matter_gets_one() -> None:
    e = cardedit.edit(
        "# Only a body\n",
        "dataset",
        {"license": "mit", "task_categories": "text-classification"},
        {
            "license": "",
            "task_categories": "",
        },
    )
    assert (
        e.ok
        and e.text == "---\nlicense: mit\ntask_categories:\n  - text-classification\n---\n# Only a body\n"
    )


def test_problems_are_the_commits_own_and_by_field() -> None:
    s = start("---\nlicense: mit\n---\n")
    e = cardedit.edit(
        "---\nlicense: mit\n---\n",
        "model",
        {"license": "nope", "pipeline_tag": "not-a-task", "base_model": "a b", "language": "Qwertyish"},
        s.base,
    )
    assert set(e.errors) == {"license", "pipeline_tag", "base_model", "language"}
    assert e.fields["language"] == "Qwertyish" and e.base["language"] == ""  # the refused input stays shown
    with pytest.raises(BadRequest, match="Invalid metadata in README.md"):
        commits.check_readme_text(e.text, "model")
    assert sorted(sum((v for k, v in e.errors.items() if k != "language"), [])) == sorted(
        commits.readme_errors(e.text, "model")
    )


def test_invalid_yaml_and_too_long_cards() -> None:
    bad = "---\nlicense: [mit\n---\nbody\n"
    e = cardedit.edit(bad, "model", {"license": "apache-2.0"}, {"license": ""})
    assert e.text == bad and "Invalid YAML" in " ".join(e.errors["content"])
    big = "x" * (commits.README_MAX + 1)
    assert "at most" in start(big).errors["content"][0]
