"""EVM addresses as this service accepts them: EIP-55 checksummed hex, one home for the rule."""

from __future__ import annotations

import re

from eth_utils import to_checksum_address

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def checksummed(text: str) -> str:
    """`text` as an EIP-55 checksummed address; ValueError, in words, when it is not one.

    All-lowercase (or all-uppercase) hex carries no checksum and is normalised; mixed case is a
    checksum and must be right, since a wrong one is how a mistyped address shows itself.
    """
    if not _HEX_ADDRESS.fullmatch(text):
        raise ValueError(f"{text!r} is not an address: 0x and 40 hexadecimal digits")
    checksum = to_checksum_address(text)
    digits = text[2:]
    if digits not in (digits.lower(), digits.upper()) and text != checksum:
        raise ValueError(f"{text} has a wrong EIP-55 checksum (mixed-case letters are a "
                         "checksum; check the address for a typo)")
    return checksum
