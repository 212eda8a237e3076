"""`helhet report`: a PDF of the published indicators for a unit; bad input writes nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from helhet.organisations.models import UnitKind

pytestmark = pytest.mark.django_db


def test_report_for_a_unit_is_a_pdf(builders, tmp_path):
    builders.make_unit(UnitKind.DPS, code="dps-report")
    out = tmp_path / "report.pdf"
    stdout = io.StringIO()
    call_command("report", "--unit", "dps-report", "--period", "2025", "--out", str(out), "--language", "en",
                 stdout=stdout)
    assert out.read_bytes().startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(out).pages)
    assert "2025" in text
    assert "wrote" in stdout.getvalue()


@pytest.mark.parametrize(("args", "message"), [
    (["--unit", "nowhere", "--period", "2025"], "unknown unit 'nowhere'"),
    (["--unit", "dps-report", "--period", "2025-Q5"], "not a period"),
    (["--unit", "dps-report", "--period", "2025", "--by", "colour"], "unknown stratifier"),
])
def test_bad_input_writes_no_file(builders, tmp_path, args, message):
    builders.make_unit(UnitKind.DPS, code="dps-report")
    out = tmp_path / "report.pdf"
    with pytest.raises(CommandError, match=message):
        call_command("report", *args, "--out", str(out))
    assert list(tmp_path.iterdir()) == []
