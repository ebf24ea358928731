"""Sanctions lists: the OFAC SDN legacy CSV (``sdn.csv`` and its ``sdn_comments.csv`` overflow), parsed for the
``Digital Currency Address - <TICKER> <address>`` remarks, imported once per distinct file (sha256) and made the
current list in one transaction. Reference: shared/reference/payments-chains-security.md section 7."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.kyc.models import SanctionedAddress, SanctionsList

logger = logging.getLogger(__name__)

SOURCE_OFAC_SDN = "ofac_sdn"
EMPTY = "-0-"  # OFAC writes an empty field as -0- (often with a trailing space)
# "Digital Currency Address - XBT 1Abc...;" (also after "alt." and at the end of the remarks without a ";").
_DIGITAL_ADDRESS = re.compile(r"Digital Currency Address - ([A-Za-z0-9]+)\s+([A-Za-z0-9:]+)")
_EVM = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HEX = re.compile(r"^0x[0-9a-fA-F]{1,64}$")
_BECH32 = re.compile(r"^(bc|tb|bcrt|ltc|tltc)1[02-9ac-hj-np-z]{6,87}$")


def address_normalize(address: str, *, chain_kind: str | None = None) -> str:
    """The form addresses are compared in, shared by the list import and screening.

    Hex addresses (EVM, whatever the ticker: ETH, ETC, USDT, ARB, BSC...; Starknet felts) are numbers: lower case
    without leading zeros, so a checksummed spelling, a Starknet address padded to 64 digits (as the accounts app
    stores it) and the same address listed unpadded all match. bech32 is case-insensitive (lower case); base58
    (legacy Bitcoin, Tron, Monero...) is case-sensitive and kept exactly. ``chain_kind`` is accepted for callers
    that know it; the form does not depend on it."""
    value = address.strip()
    if _EVM.match(value) or _HEX.match(value):
        return f"0x{int(value, 16):x}"
    if _BECH32.match(value.lower()):
        return value.lower()
    return value


@dataclass
class SdnEntry:
    """One row of sdn.csv: the fields screening uses and the digital currency addresses of its remarks."""

    number: str
    name: str
    sdn_type: str
    program: str
    remarks: str
    addresses: list[tuple[str, str]] = field(default_factory=list)  # (ticker, address as written)


def _field(value: str) -> str:
    value = value.strip()
    return "" if value == EMPTY else value


def _rows(text: str) -> list[list[str]]:
    # The legacy files end with a DOS end-of-file byte (0x1A) on a line of its own.
    reader = csv.reader(io.StringIO(text.replace("\x1a", "")), skipinitialspace=True)
    return [row for row in reader if row and _field(row[0]).isdigit()]


def sdn_parse(csv_text: str, comments_text: str | None = None) -> list[SdnEntry]:
    """Every entry of an ``sdn.csv`` text (no header row; 12 positional columns ``ent_num, SDN_Name, SDN_Type,
    Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks``), with the remarks
    continued from ``sdn_comments.csv`` (``ent_num, Remarks``) when given."""
    overflow: dict[str, str] = {}
    for row in _rows(comments_text or ""):
        number = _field(row[0])
        overflow[number] = overflow.get(number, "") + (_field(row[1]) if len(row) > 1 else "")
    entries = []
    for row in _rows(csv_text):
        cells = [_field(value) for value in row] + [""] * (12 - len(row))
        remarks = cells[11] + overflow.get(cells[0], "")
        entry = SdnEntry(number=cells[0], name=cells[1], sdn_type=cells[2], program=cells[3], remarks=remarks)
        for ticker, address in _DIGITAL_ADDRESS.findall(remarks):
            if (ticker.upper(), address) not in entry.addresses:
                entry.addresses.append((ticker.upper(), address))
        entries.append(entry)
    return entries


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:  # older OFAC files are Windows-1252
        return data.decode("cp1252", errors="replace")


def companion_comments_path(path: str | Path) -> Path | None:
    """``sdn.csv`` → ``sdn_comments.csv`` next to it (``x.csv`` → ``x_comments.csv``), if that file exists."""
    path = Path(path)
    companion = path.with_name(f"{path.stem}_comments{path.suffix}")
    return companion if companion.is_file() else None


def _digest(data: bytes, comments: bytes | None) -> str:
    digest = hashlib.sha256(data)
    if comments is not None:
        digest.update(b"\0sdn_comments\0" + comments)
    return digest.hexdigest()


def sanctions_list_current() -> SanctionsList | None:
    return SanctionsList.objects.filter(is_current=True).order_by("-loaded_at", "-pk").first()


def sanctions_list_import(*, path: str | Path, comments_path: str | Path | None = None) -> tuple[SanctionsList, bool]:
    """Import an SDN file and make it the current list. Returns (list, created).

    Idempotent on the files' sha256: the same bytes again return the stored list (made current again if an
    older file had replaced it). A new list replaces the current one atomically, then the linked wallets are
    screened against it (a hit opens an AML case; nothing is blocked until the wallet is used)."""
    path = Path(path)
    data = path.read_bytes()
    comments = Path(comments_path).read_bytes() if comments_path else None
    sha256 = _digest(data, comments)
    existing = SanctionsList.objects.filter(source=SOURCE_OFAC_SDN, sha256=sha256).first()
    if existing is not None:
        if not existing.is_current:
            _make_current(existing)
            logger.info("Sanctions list %s is current again (%s)", sha256[:12], path.name)
        return existing, False
    entries = sdn_parse(_text(data), _text(comments) if comments is not None else None)
    try:
        sanctions_list = _store(entries, sha256=sha256, file_name=path.name)
    except IntegrityError:  # the same file imported by another process a moment ago
        return SanctionsList.objects.get(source=SOURCE_OFAC_SDN, sha256=sha256), False
    logger.info(
        "Sanctions list %s imported from %s: %s entries, %s addresses",
        sha256[:12],
        path.name,
        sanctions_list.entry_count,
        sanctions_list.address_count,
    )
    from . import screening  # screening imports this module for address_normalize

    screening.wallets_rescreen(sanctions_list=sanctions_list)
    return sanctions_list, True


@transaction.atomic
def _store(entries: list[SdnEntry], *, sha256: str, file_name: str) -> SanctionsList:
    rows = [
        SanctionedAddress(
            ticker=ticker[:10],
            address=address[:128],
            normalized=address_normalize(address)[:128],
            entry_number=entry.number[:16],
            entry_name=entry.name[:350],
        )
        for entry in entries
        for ticker, address in entry.addresses
    ]
    sanctions_list = SanctionsList.objects.create(
        source=SOURCE_OFAC_SDN,
        sha256=sha256,
        file_name=file_name[:255],
        entry_count=len(entries),
        address_count=len(rows),
    )
    for row in rows:
        row.sanctions_list = sanctions_list
    SanctionedAddress.objects.bulk_create(rows, batch_size=500)
    _make_current(sanctions_list)
    return sanctions_list


@transaction.atomic
def _make_current(sanctions_list: SanctionsList) -> None:
    # Screening reads "the current list": the switch is one transaction, so it never sees none or two.
    SanctionsList.objects.filter(source=sanctions_list.source, is_current=True).exclude(pk=sanctions_list.pk).update(
        is_current=False
    )
    SanctionsList.objects.filter(pk=sanctions_list.pk).update(is_current=True)
    sanctions_list.is_current = True


def sanctions_reload() -> bool:
    """Import ``settings.AML_SDN_PATH`` (and its ``*_comments`` companion) if its bytes changed. True when the
    current list changed. Unset path → nothing to do; a missing file is logged and keeps the current list."""
    if not settings.AML_SDN_PATH:
        return False
    path = Path(settings.AML_SDN_PATH)
    if not path.is_file():
        logger.error("AML_SDN_PATH %s is not a file: the current sanctions list stays in force", path)
        return False
    before = sanctions_list_current()
    sanctions_list, _ = sanctions_list_import(path=path, comments_path=companion_comments_path(path))
    return before is None or before.pk != sanctions_list.pk
