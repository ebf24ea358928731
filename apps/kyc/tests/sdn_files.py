"""Write sanctions files in the OFAC legacy SDN CSV format for tests (no header, 12 columns, ``-0- `` empties,
CRLF line ends, a trailing 0x1A byte), as ``sdn.csv`` is published."""

from __future__ import annotations

from pathlib import Path

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
