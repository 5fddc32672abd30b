"""GS1 EPC binary encodings used by scenarios: SGTIN-96 and SSCC-96 (GS1 EPC Tag Data Standard)."""

from __future__ import annotations

from typing import Final

SGTIN96_HEADER: Final = 0x30
SSCC96_HEADER: Final = 0x31

# partition -> (company prefix digits, company prefix bits, other field bits); TDS tables 14-2 and 14-5
_SGTIN_PARTITIONS: Final = {
    0: (12, 40, 4),
    1: (11, 37, 7),
    2: (10, 34, 10),
    3: (9, 30, 14),
    4: (8, 27, 17),
    5: (7, 24, 20),
    6: (6, 20, 24),
}
_SSCC_PARTITIONS: Final = {
    0: (12, 40, 18),
    1: (11, 37, 21),
    2: (10, 34, 24),
    3: (9, 30, 28),
    4: (8, 27, 31),
    5: (7, 24, 34),
    6: (6, 20, 38),
}


class EPCError(ValueError):
    pass


def _partition(table: dict[int, tuple[int, int, int]], company_prefix: str) -> tuple[int, int, int]:
    if not company_prefix.isdigit() or not 6 <= len(company_prefix) <= 12:
        raise EPCError(f"company_prefix must be 6 to 12 digits, got {company_prefix!r}")
    for partition, (digits, cp_bits, rest_bits) in table.items():
        if digits == len(company_prefix):
            return partition, cp_bits, rest_bits
    raise AssertionError("unreachable")


def sgtin96(company_prefix: str, item_reference: str, serial: int, filter_value: int = 1) -> str:
    """SGTIN-96 as 24 uppercase hex digits. `item_reference` includes the indicator digit and has
    13 - len(company_prefix) digits; `serial` is numeric, 0 .. 2**38-1."""
    partition, cp_bits, item_bits = _partition(_SGTIN_PARTITIONS, company_prefix)
    item_digits = 13 - len(company_prefix)
    if not item_reference.isdigit() or len(item_reference) != item_digits:
        raise EPCError(
            f"item_reference must be {item_digits} digits for a {len(company_prefix)}-digit "
            f"company prefix, got {item_reference!r}"
        )
    if not 0 <= serial < 1 << 38:
        raise EPCError(f"serial must be 0 .. {2**38 - 1}, got {serial}")
    if not 0 <= filter_value <= 7:
        raise EPCError(f"filter must be 0 .. 7, got {filter_value}")
    value = SGTIN96_HEADER
    value = (value << 3) | filter_value
    value = (value << 3) | partition
    value = (value << cp_bits) | int(company_prefix)
    value = (value << item_bits) | int(item_reference)
    value = (value << 38) | serial
    return f"{value:024X}"


def sscc96(company_prefix: str, serial_reference: str, filter_value: int = 0) -> str:
    """SSCC-96 as 24 uppercase hex digits. `serial_reference` includes the extension digit and has
    17 - len(company_prefix) digits."""
    partition, cp_bits, serial_bits = _partition(_SSCC_PARTITIONS, company_prefix)
    serial_digits = 17 - len(company_prefix)
    if not serial_reference.isdigit() or len(serial_reference) != serial_digits:
        raise EPCError(
            f"serial_reference must be {serial_digits} digits for a {len(company_prefix)}-digit "
            f"company prefix, got {serial_reference!r}"
        )
    if not 0 <= filter_value <= 7:
        raise EPCError(f"filter must be 0 .. 7, got {filter_value}")
    value = SSCC96_HEADER
    value = (value << 3) | filter_value
    value = (value << 3) | partition
    value = (value << cp_bits) | int(company_prefix)
    value = (value << serial_bits) | int(serial_reference)
    value <<= 24  # reserved
    return f"{value:024X}"
