"""The collect node's validators (Luhn, length, pattern) and the masking rule."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given

from ccroute.ivr import Length, Luhn, Pattern, Validator, luhn_valid, mask

# Published test numbers: valid Luhn check digits.
VALID = ["4111111111111111", "5500005555555559", "378282246310005", "79927398713", "00"]
INVALID = ["4111111111111112", "79927398710", "1234567812345678", "0", "", "41111a1111111111", "٣٣"]


@pytest.mark.parametrize("number", VALID)
def test_luhn_accepts_numbers_with_a_correct_check_digit(number: str) -> None:
    assert luhn_valid(number)
    assert Luhn().check(number) is None


@pytest.mark.parametrize("number", INVALID)
def test_luhn_refuses_wrong_check_digits_and_non_digits(number: str) -> None:
    assert not luhn_valid(number)
    assert Luhn().check(number) == "fails the check digit"


def _check_digit(payload: str) -> str:
    for digit in "0123456789":
        if luhn_valid(payload + digit):
            return digit
    raise AssertionError("some digit always completes a Luhn number")


@given(st.text(alphabet="0123456789", min_size=1, max_size=30))
def test_exactly_one_check_digit_completes_any_payload(payload: str) -> None:
    completing = [d for d in "0123456789" if luhn_valid(payload + d)]
    assert len(completing) == 1


@given(st.text(alphabet="0123456789", min_size=1, max_size=30), st.data())
def test_changing_one_digit_breaks_the_check(payload: str, data: st.DataObject) -> None:
    number = payload + _check_digit(payload)
    index = data.draw(st.integers(0, len(number) - 1))
    other = data.draw(st.sampled_from([d for d in "0123456789" if d != number[index]]))
    assert not luhn_valid(number[:index] + other + number[index + 1 :])


def test_length_bounds_are_inclusive() -> None:
    check = Length(3, 5)
    assert check.check("abc") is None
    assert check.check("abcde") is None
    assert check.check("ab") == "shorter than 3 characters"
    assert check.check("abcdef") == "longer than 5 characters"
    assert Length(max=2).check("") is None
    assert Length(min=1).check("x" * 1000) is None


def test_pattern_must_match_the_whole_value() -> None:
    check = Pattern(r"[A-Z]{2}\d{4}")
    assert check.check("AB1234") is None
    assert check.check("AB12345") == "does not match the pattern"
    assert check.check("xAB1234") == "does not match the pattern"


def test_validators_are_validators_and_reasons_never_hold_the_value() -> None:
    secret = "4111111111111112"
    for check in (Length(1, 4), Pattern(r"\d{3}"), Luhn()):
        assert isinstance(check, Validator)
        reason = check.check(secret)
        assert reason is not None and secret not in reason


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("4111111111111111", "************1111"),
        ("123456789", "*******89"),
        ("1234", "****"),
        ("1234567", "*******"),
        ("12345678", "******78"),
        ("", ""),
    ],
)
def test_mask_keeps_at_most_the_last_four_of_long_values(value: str, masked: str) -> None:
    assert mask(value) == masked


@given(st.text(st.characters(exclude_characters="*"), max_size=60))
def test_mask_keeps_the_length_and_shows_at_most_a_quarter_of_the_end(value: str) -> None:
    masked = mask(value)
    n = len(value)
    assert len(masked) == n
    # Stars, then the value's own tail: at most a quarter of it, and at most four.
    tail = min(i for i in range(n + 1) if masked[i:] == value[i:])
    assert set(masked[:tail]) <= {"*"}
    assert n - tail <= min(4, n // 4)
    if n < 8:
        assert masked == "*" * n
