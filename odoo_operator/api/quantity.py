"""Kubernetes quantities (`2Gi`, `500M`, `1.5e3`) as exact numbers, to compare sizes.

Guarantees:
- `parse_quantity` accepts exactly apimachinery's `resource.Quantity` grammar (the
  `QUANTITY_PATTERN` the CRD schemas use) and returns the value as a `Fraction`, so no
  rounding ever decides a comparison (`1Gi` == `1073741824` == `1.073741824G`);
- anything else raises `ValueError` naming the text, and so do values no size needs
  (more than 64 characters, a decimal exponent beyond +-64), which keeps a hostile
  `1e999999999` from costing more than a microsecond.
"""

from __future__ import annotations

import re
from fractions import Fraction

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_MAX_LENGTH = 64
_MAX_EXPONENT = 64
_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_GRAMMAR = re.compile(
    rf"(?P<number>{_NUMBER})"
    r"(?:(?P<binary>[KMGTPE]i)|(?P<decimal>[numkMGTPE])|[eE](?P<exponent>"
    rf"{_NUMBER}))?"
)


def parse_quantity(text: str) -> Fraction:
    """The exact value of a Kubernetes quantity; `ValueError` if `text` is not one."""
    match = _GRAMMAR.fullmatch(text) if len(text) <= _MAX_LENGTH else None
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity (e.g. 2Gi, 500M, 1.5)")
    number = Fraction(match["number"])
    if match["binary"]:
        return number * Fraction(1024) ** _BINARY[match["binary"]]
    if match["exponent"] is not None:
        exponent = Fraction(match["exponent"])
        if exponent.denominator != 1:
            # apimachinery's grammar admits `1e1.5`, but no parser gives it a value.
            raise ValueError(f"{text!r}: the exponent of a quantity must be an integer")
        if abs(exponent) > _MAX_EXPONENT:
            raise ValueError(f"{text!r}: exponent out of range (at most {_MAX_EXPONENT})")
        return number * Fraction(10) ** int(exponent)
    return number * Fraction(10) ** _DECIMAL[match["decimal"] or ""]
