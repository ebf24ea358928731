"""Write sanctions files in the OFAC legacy SDN CSV format for tests (no header, 12 columns, ``-0- `` empties,
CRLF line ends, a trailing 0x1A byte), as ``sdn.csv`` is published; import one as the current list, and check the
refusal a sanctioned address gets."""

from __future__ import annotations

from pathlib import Path

from apps.kyc.models import SanctionsList
from apps.kyc.services.sanctions import sanctions_list_import
from tests.helpers import assert_error_shape

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "sanctions" / "sdn_demo.csv"
EMPTY = "-0- "


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def sdn_row(
    number: int, name: str, remarks: str | None, *, sdn_type: str | None = None, program: str = "CYBER2"
) -> str:
    cells = [str(number), _quoted(name), _quoted(sdn_type) if sdn_type else EMPTY, _quoted(program)]
    cells += [EMPTY] * 7
    cells.append(_quoted(remarks) if remarks else EMPTY)
    return ",".join(cells)


def crypto_remarks(*addresses: tuple[str, str]) -> str:
    parts = ["Website www.example.invalid"]
    parts += [f"Digital Currency Address - {ticker} {address}" for ticker, address in addresses]
    return "; ".join(parts) + "; Secondary sanctions risk: see Section 11 of Executive Order 13694."


def write_sdn(path: Path, rows: list[str]) -> Path:
    path.write_bytes(("\r\n".join(rows) + "\r\n\x1a").encode())
    return path


def sdn_with(path: Path, *addresses: tuple[str, str], number: int = 95001) -> Path:
    """An SDN file with one fictional entity holding ``addresses`` ((ticker, address) pairs)."""
    return write_sdn(path, [sdn_row(number, "FICTIONAL TEST ENTITY", crypto_remarks(*addresses))])


def sanction(tmp_path: Path, *addresses: tuple[str, str]) -> SanctionsList:
    """Import an SDN file listing ``addresses`` ((ticker, address) pairs) as the current sanctions list."""
    sanctions_list, _ = sanctions_list_import(path=sdn_with(tmp_path / "sdn.csv", *addresses))
    return sanctions_list


def assert_sanctioned(response) -> None:
    """The API's refusal of a sanctioned address: 403 ``sanctioned_address``, and nothing about the list or the
    match reaches the user."""
    error = assert_error_shape(response, 403, "sanctioned_address")
    assert error["details"] == {}
    assert "FICTIONAL" not in response.content.decode()
