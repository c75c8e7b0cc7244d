"""The ranking screen's keys: the page (buttons, legend, help) and the guidelines' sentence against
annotate/keys.py, the one table (screen.js reads its key map from the buttons)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from annotate import keys
from annotate.keys import ScreenKey


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, match) -> list[Node]:
        found = [self] if match(self) else []
        for child in self.children:
            if isinstance(child, Node):
                found.extend(child.find_all(match))
        return found

    def kbds(self) -> tuple[str, ...]:
        return tuple(k.text() for k in self.find_all(lambda n: n.tag == "kbd"))


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Node("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        while len(self.stack) > 1 and self.stack.pop().tag != tag:
            pass

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def tree(html: str) -> Node:
    parser = _Tree()
    parser.feed(html)
    parser.close()
    return parser.root


def has_class(name: str):
    return lambda n: name in n.attrs.get("class", "").split()


def legend_on(html: str) -> list[tuple[tuple[str, ...], str]]:
    (legend,) = tree(html).find_all(has_class("legend"))
    spans = [c for c in legend.children if isinstance(c, Node) and c.tag == "span"]
    return [(span.kbds(), "".join(c for c in span.children if isinstance(c, str)).strip()) for span in spans]


@pytest.fixture
def page(alice, project) -> str:
    client = Client()
    client.force_login(alice)
    response = client.get(reverse("label", args=[project.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_legend_is_the_tables(page):
    assert legend_on(page) == keys.legend()


def test_the_buttons_announce_the_tables_keys(page):
    root = tree(page)
    choices = [
        (n.attrs["data-choice"], tuple(n.attrs["aria-keyshortcuts"].split()), n.kbds())
        for n in root.find_all(lambda n: "data-choice" in n.attrs)
    ]
    assert sorted(choices) == sorted((c.value, c.keys, c.keys) for c in keys.CHOICES)
    strengths = root.find_all(lambda n: "data-strength" in n.attrs)
    assert [
        (n.attrs["data-strength"], tuple(n.attrs["aria-keyshortcuts"].split()), n.kbds()) for n in strengths
    ] == [(s.value, s.keys, s.keys) for s in keys.STRENGTHS]
    (default,) = [n.attrs["data-strength"] for n in strengths if n.attrs["aria-checked"] == "true"]
    assert default == keys.DEFAULT_STRENGTH
    actions = {
        n.attrs["data-key-action"]: tuple(n.attrs["aria-keyshortcuts"].split())
        for n in root.find_all(lambda n: "data-key-action" in n.attrs)
    }
    # Scrolling is the arrows' and page keys' own (screen.js): no button to announce it.
    assert actions == {a.value: a.keys for a in keys.ACTIONS if a.value != "scroll"}


def test_the_help_lists_the_tables_keys(page):
    (table,) = tree(page).find_all(has_class("keys"))
    assert [th.kbds() for th in table.find_all(lambda n: n.tag == "th")] == keys.help_rows()


def test_the_guidelines_sentence_names_every_key_of_the_legend_and_no_other():
    sentence = keys.guidelines_sentence()
    said = re.findall(r"`([^`]+)`", sentence)
    assert sorted(said) == sorted(key for group, _ in keys.legend() for key in group)
    assert "`1` or `a` when A is better" in sentence and "`q` / `w` / `e`" in sentence


def test_the_checks_see_an_edit_on_either_side(page, monkeypatch):
    # The page edited alone: the tie loses its letter.
    assert legend_on(page.replace("<kbd>3</kbd><kbd>t</kbd> tie", "<kbd>3</kbd> tie")) != keys.legend()
    # The table edited alone: the page no longer matches, and the guidelines say the new key.
    tie = ScreenKey("tie", ("3", "="), "tie", "for a tie")
    monkeypatch.setattr(keys, "CHOICES", (*keys.CHOICES[:2], tie, keys.CHOICES[3]))
    assert legend_on(page) != keys.legend()
    assert "`3` or `=` for a tie" in keys.guidelines_sentence()
