"""Values in the form the API server stores them, so that a no-op apply is seen as one.

The applier skips a write only when the cached object already holds every desired value
(runtime/apply.py); a value the server rewrites on the way in never compares equal and
would be sent on every reconcile. What the server rewrites in the objects we build:

- quantities (`resources.limits.cpu: 0.5` is stored as `500m`, `1024Mi` as `1Gi`, an
  integer `1` as the string `"1"`): `quantity()` is apimachinery's `Quantity.String()`;
- an `EnvVar` with `value: ""` is stored without `value`: `env()` drops it;
- a Secret's `stringData` is stored as base64 `data`: build `data`, never `stringData`.

Guarantees: `quantity(q)` equals the string the API server returns for `q`, for every
quantity up to 2^63 (tested against the server); it raises `ValueError` naming the value
for text that is not a quantity.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

_QUANTITY = re.compile(r"^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([a-zA-Z]{0,2}|[eE][+-]?[0-9]+)$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {exponent: suffix for suffix, exponent in _DECIMAL.items()}
_BINARY_SUFFIX = {power: suffix for suffix, power in _BINARY.items()}
_NANO = 10**9


def _parse(text: str) -> tuple[Fraction, str]:
    """The exact value and its format: `binary`, `decimal` (SI) or `exponent`."""
    match = _QUANTITY.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (e.g. 500m, 2Gi, 1.5)")
    sign, number, suffix = match.groups()
    value = Fraction(number)
    if suffix in _BINARY:
        value *= 1024 ** _BINARY[suffix]
        kind = "binary"
    elif suffix in _DECIMAL:
        value *= Fraction(10) ** _DECIMAL[suffix]
        kind = "decimal"
    elif suffix[:1] in "eE" and suffix:
        value *= Fraction(10) ** int(suffix[1:])
        kind = "exponent"
    else:
        raise ValueError(f"{text!r} is not a Kubernetes quantity: unknown suffix {suffix!r}")
    return (-value if sign == "-" else value), kind


def _remove_factors(value: int, base: int) -> tuple[int, int]:
    times = 0
    while value != 0 and value % base == 0:
        value //= base
        times += 1
    return value, times


def quantity(value: str | int | float) -> str:
    """The canonical text of a quantity, as the API server stores it."""
    number, kind = _parse(str(value))
    # The server keeps at most nanounits, rounding away from zero.
    nanos = math.ceil(abs(number) * _NANO)
    negative = number < 0
    if nanos == 0:
        return "0"
    if kind == "binary":
        whole = Fraction(nanos, _NANO)
        if whole < 1024 or whole.denominator != 1:
            kind = "decimal"
        else:
            amount, times = _remove_factors(int(whole), 1024)
            while times > max(_BINARY.values()):
                amount, times = amount * 1024, times - 1
            return f"{'-' if negative else ''}{amount}{_BINARY_SUFFIX.get(times, '')}"
    amount, times = _remove_factors(nanos, 10)
    exponent = times - 9
    remainder = exponent % 3
    if remainder == 1:
        amount, exponent = amount * 10, exponent - 1
    elif remainder == 2:
        amount, exponent = amount * 100, exponent - 2
    sign = "-" if negative else ""
    if kind == "decimal" and exponent in _DECIMAL_SUFFIX:
        return f"{sign}{amount}{_DECIMAL_SUFFIX[exponent]}"
    return f"{sign}{amount}" + (f"e{exponent}" if exponent else "")


def amount(value: str | int | float) -> Fraction:
    """The exact value of a quantity (to compare sizes)."""
    return _parse(str(value))[0]


def resources(requirements: dict[str, Any] | None) -> dict[str, Any] | None:
    """`ResourceRequirements` with canonical quantities in `limits` and `requests`."""
    if not requirements:
        return None
    result = dict(requirements)
    for part in ("limits", "requests"):
        if requirements.get(part):
            result[part] = {name: quantity(q) for name, q in requirements[part].items()}
    return result


def env(variables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`EnvVar`s as stored: an empty `value` is dropped."""
    return [
        {key: item for key, item in variable.items() if not (key == "value" and item == "")}
        for variable in variables
    ]
