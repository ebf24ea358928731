"""The OFAC SDN legacy CSV: parsing, importing once per file, the import command and the reload beat task."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command

from apps.kyc.models import SanctionedAddress, SanctionsList
from apps.kyc.services.sanctions import address_normalize, sanctions_list_import, sdn_parse
from apps.kyc.tasks_sanctions import sanctions_reload

from .sdn_files import FIXTURE, crypto_remarks, sdn_row, sdn_with, write_sdn

DEMO_ETH = "0x966757F48E76dBE9B1B95EB5A494A6fa4Ee0c3a6"
DEMO_XBT = "1DAVBbe5Vuiz84BYDpfv1JRenPoAPvny1G"
NEW_ETH = "0x7Dfa74Cf902f69130eb5C01E8eCbA44F5E819319"


def test_remarks_with_several_addresses_give_every_one_with_its_ticker():
    entries = sdn_parse(FIXTURE.read_text())
    exchange = next(e for e in entries if e.number == "90001")
    assert exchange.name == "EXAMPLE DEMO EXCHANGE LTD."
    assert exchange.addresses == [
        ("XBT", DEMO_XBT),
        ("XBT", "bc1qhmzs3urq90gsvttytw2wusj3rnlnk69yxxhj2s"),
        ("ETH", DEMO_ETH),
    ]
    person = next(e for e in entries if e.number == "90002")
    assert [ticker for ticker, _ in person.addresses] == ["ETH", "USDT", "ARB"]


def test_empty_fields_written_as_minus_zero_minus_are_empty_and_quoted_commas_stay_in_the_name():
    entries = {e.number: e for e in sdn_parse(FIXTURE.read_text())}
    assert entries["90001"].sdn_type == ""
    assert entries["90002"].sdn_type == "individual"
    assert entries["90002"].name == "SAMPLE, Fictional Person"
    assert entries["90003"].name == "DEMO SHIPPING CO., LTD."
    assert entries["90005"].remarks == ""
    assert len(entries) == 5  # the 0x1A end-of-file line is not an entry


def test_remarks_without_digital_currency_addresses_give_none():
    text = "\r\n".join(
        [
            sdn_row(1, "SHIP ONE", "Vessel Registration Identification IMO 1234567; Email Address a@example.invalid"),
            sdn_row(2, "PERSON, Two", "DOB 1970; Digital Currency Address: see remarks", sdn_type="individual"),
        ]
    )
    assert [e.addresses for e in sdn_parse(text)] == [[], []]


def test_sdn_comments_overflow_continues_the_remarks():
    text = FIXTURE.read_text()
    comments = FIXTURE.with_name("sdn_demo_comments.csv").read_text()
    mixer = next(e for e in sdn_parse(text) if e.number == "90004")
    assert len(mixer.addresses) == 2
    mixer = next(e for e in sdn_parse(text, comments) if e.number == "90004")
    assert ("ETH", "0x1dc1BAcCA82183432c24F7a9bB7e8c5B05f32E01") in mixer.addresses
    assert ("XBT", "bc1q999rqgmfeemm89326hjt60uut9gmppu6cc2qzs") in mixer.addresses
    assert len(mixer.addresses) == 4


@pytest.mark.parametrize(
    ("address", "normalized"),
    [
        (DEMO_ETH, DEMO_ETH.lower()),
        ("0x" + DEMO_ETH[2:].upper(), DEMO_ETH.lower()),
        ("BC1QHMZS3URQ90GSVTTYTW2WUSJ3RNLNK69YXXHJ2S", "bc1qhmzs3urq90gsvttytw2wusj3rnlnk69yxxhj2s"),
        (DEMO_XBT, DEMO_XBT),
        (" TV8HiXjLrovMB79b13YiMgz3dS2aCSoBud ", "TV8HiXjLrovMB79b13YiMgz3dS2aCSoBud"),
    ],
)
def test_addresses_normalise_case_insensitively_only_where_the_format_is(address, normalized):
    assert address_normalize(address) == normalized


@pytest.mark.django_db
def test_import_stores_the_addresses_and_the_same_file_again_changes_nothing():
    first, created = sanctions_list_import(path=FIXTURE, comments_path=FIXTURE.with_name("sdn_demo_comments.csv"))
    assert created
    assert (first.entry_count, first.address_count, first.is_current) == (5, 10, True)
    assert len(first.sha256) == 64
    row = SanctionedAddress.objects.get(sanctions_list=first, address=DEMO_ETH)
    assert (row.ticker, row.normalized, row.entry_number) == ("ETH", DEMO_ETH.lower(), "90001")
    again, created = sanctions_list_import(path=FIXTURE, comments_path=FIXTURE.with_name("sdn_demo_comments.csv"))
    assert (again.pk, created) == (first.pk, False)
    assert SanctionsList.objects.count() == 1
    assert SanctionedAddress.objects.count() == 10


@pytest.mark.django_db
def test_a_new_file_becomes_the_only_current_list(tmp_path):
    old, _ = sanctions_list_import(path=FIXTURE)
    new, created = sanctions_list_import(path=sdn_with(tmp_path / "sdn.csv", ("ETH", NEW_ETH)))
    assert created
    assert list(SanctionsList.objects.filter(is_current=True)) == [new]
    old.refresh_from_db()
    assert not old.is_current
    back, created = sanctions_list_import(path=FIXTURE)  # the older file again: current again, not re-imported
    assert (back.pk, created, back.is_current) == (old.pk, False, True)
    assert list(SanctionsList.objects.filter(is_current=True)) == [old]


@pytest.mark.django_db
def test_the_import_command_prints_the_hash_and_counts_and_picks_up_the_comments_file():
    out = StringIO()
    call_command("kyc_sanctions_import", str(FIXTURE), stdout=out)
    current = SanctionsList.objects.get(is_current=True)
    assert current.sha256 in out.getvalue()
    assert "5 entries, 10 addresses" in out.getvalue()
    out = StringIO()
    call_command("kyc_sanctions_import", str(FIXTURE), stdout=out)
    assert out.getvalue().startswith("Already imported")


@pytest.mark.django_db
def test_the_reload_task_picks_up_a_new_entry(tmp_path, settings):
    path = write_sdn(tmp_path / "sdn.csv", [sdn_row(1, "FIRST ENTITY", crypto_remarks(("XBT", DEMO_XBT)))])
    settings.AML_SDN_PATH = str(path)
    assert sanctions_reload.apply().get() is True
    assert sanctions_reload.apply().get() is False  # unchanged bytes: nothing to do
    assert not SanctionedAddress.objects.filter(normalized=NEW_ETH.lower()).exists()

    write_sdn(
        path,
        [
            sdn_row(1, "FIRST ENTITY", crypto_remarks(("XBT", DEMO_XBT))),
            sdn_row(2, "SECOND ENTITY", crypto_remarks(("ETH", NEW_ETH))),
        ],
    )
    assert sanctions_reload.apply().get() is True
    current = SanctionsList.objects.get(is_current=True)
    assert current.entry_count == 2
    assert current.addresses.filter(normalized=NEW_ETH.lower(), entry_name="SECOND ENTITY").exists()


@pytest.mark.django_db
def test_the_reload_task_without_a_file_keeps_the_current_list(tmp_path, settings):
    sanctions_list_import(path=FIXTURE)
    settings.AML_SDN_PATH = None
    assert sanctions_reload.apply().get() is False
    settings.AML_SDN_PATH = str(tmp_path / "missing.csv")
    assert sanctions_reload.apply().get() is False
    assert SanctionsList.objects.get(is_current=True).file_name == "sdn_demo.csv"


def test_the_worker_discovers_the_reload_task_the_beat_schedule_names(settings):
    """In a fresh process (this one imported the task already): what a worker imports at start, each tasks.py."""
    assert "kyc.sanctions_reload" in {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    code = "from engipay.celery import app; app.loader.import_default_modules(); print(sorted(app.tasks))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "'kyc.sanctions_reload'" in found.stdout
