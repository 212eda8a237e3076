import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from helhet.accounts.models import User


def test_add_clinician_with_units(builders, capsys):
    unit = builders.make_unit(code="cli-unit")
    call_command("users", "add", "ny", "--role", "clinician", "--unit", "cli-unit", "--profession", "nurse")
    user = User.objects.get(username="ny")
    assert list(user.units.all()) == [unit] and user.password.startswith("argon2")
    assert "password:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "clinician"], "at least one --unit"),
        (["--role", "clinician", "--unit", "nope"], "unknown unit"),
        (["--role", "service_user"], "--person"),
        (["--role", "analyst", "--region", "XX"], "unknown region"),
    ],
)
def test_bad_input_is_refused(builders, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("users", "add", "feil", *args)
    assert not User.objects.filter(username="feil").exists()


def test_weak_password_from_stdin_is_refused(builders, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("123\n"))
    with pytest.raises(CommandError, match="password refused"):
        call_command("users", "add", "svak", "--role", "analyst", "--password-stdin")
