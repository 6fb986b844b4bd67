"""Name validation: what a binding name may be, and why not."""

from __future__ import annotations

import pytest

from orb.naming import MAX_NAME_LENGTH, InvalidName, validate


@pytest.mark.parametrize(
    "name",
    ["calc", "apps/chat/lobby", "with space/x", "café/über", "a-b_c.d/e:f@g", "x" * 128 + "/y"],
)
def test_valid_names_pass_unchanged(name: str) -> None:
    assert validate(name) == name


def test_the_longest_name_is_accepted_and_one_more_character_is_not() -> None:
    longest = "/".join(["p" * 127] * 3) + "/" + "q" * 128
    assert len(longest) == MAX_NAME_LENGTH
    assert validate(longest) == longest
    with pytest.raises(InvalidName, match=f"limit is {MAX_NAME_LENGTH}"):
        validate(longest + "q")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "may not be empty"),
        ("a//b", "empty part"),
        ("/apps", "may not start or end with '/'"),
        ("apps/", "may not start or end with '/'"),
        ("a/./b", r"'\.' or '\.\.'"),
        ("../etc", r"'\.' or '\.\.'"),
        ("a\x00b", "control characters"),
        ("line\nbreak", "control characters"),
        ("tab\there", "control characters"),
        ("bell\x07", "control characters"),
        ("del\x7f", "control characters"),
        ("p" * 129, "exceeds 128 characters"),
    ],
)
def test_invalid_names_say_why(name: str, reason: str) -> None:
    with pytest.raises(InvalidName, match=reason):
        validate(name)


@pytest.mark.parametrize("name", [None, 42, b"apps/x", ["apps"]])
def test_a_name_must_be_a_string(name: object) -> None:
    with pytest.raises(InvalidName, match="a name is a string"):
        validate(name)


def test_invalid_name_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        validate("a//b")
