import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainrisk.address import parse_address, to_checksum, tron_from_hex, tron_to_hex, try_parse
from chainrisk.errors import InvalidAddress

USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"


def test_lower_upper_and_valid_checksum_are_accepted():
    assert parse_address(USDT).address == USDT
    assert parse_address(USDT.upper().replace("0X", "0x")).address == USDT
    assert parse_address("0xdAC17F958D2ee523a2206206994597C13D831ec7") == parse_address(USDT)
    assert parse_address("  " + USDT + "\n").chain == "ethereum"


def test_bad_checksum_is_rejected_with_reason():
    with pytest.raises(InvalidAddress, match="EIP-55"):
        parse_address("0xdAC17F958D2ee523a2206206994597C13D831eC7")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("0x1234", "40 hex digits, this has 4"),
        ("0xzz17f958d2ee523a2206206994597c13d831ec7", "0x followed by 40 hex"),
        ("dac17f958d2ee523a2206206994597c13d831ec7", "missing 0x"),
        ("hello", "not an EVM"),
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", "checksum"),
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj60", "not base58"),
    ],
)
def test_invalid_inputs_name_the_reason(text, reason):
    err = try_parse(text)
    assert isinstance(err, InvalidAddress)
    assert reason in err.reason


def test_tron_base58_and_hex_round_trip():
    a = parse_address("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")
    assert a.chain == "tron"
    h = tron_to_hex(a.address)
    assert h.startswith("41") and len(h) == 42
    assert tron_from_hex(h) == a.address
    assert parse_address(h).address == a.address


@given(st.binary(min_size=20, max_size=20))
def test_checksum_form_always_parses_back(raw):
    lower = "0x" + raw.hex()
    assert parse_address(to_checksum(lower)).address == lower
    assert parse_address(tron_from_hex("41" + raw.hex())).chain == "tron"
