import base64
import os
import secrets
import subprocess
import sys

PRODUCTION_ENV = {
    "HELHET_PRODUCTION": "true",
    "HELHET_SECRET_KEY": secrets.token_urlsafe(60),
    "HELHET_NIN_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    "HELHET_NIN_HASH_KEY": secrets.token_urlsafe(32),
    "HELHET_ALLOWED_HOSTS": "helhet.example.org",
}


def _helhet(*args, env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HELHET_", "DJANGO_"))}
    return subprocess.run([sys.executable, "-m", "helhet", *args], env={**clean, **env}, capture_output=True,
                          text=True, timeout=120)


def test_deploy_check_is_clean_when_configured_for_production(tmp_path):
    result = _helhet("check", "--deploy", "--fail-level", "WARNING",
                     env={**PRODUCTION_ENV, "HELHET_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_keys(tmp_path):
    result = _helhet("check", env={"HELHET_PRODUCTION": "true", "HELHET_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "HELHET_SECRET_KEY" in result.stderr and "HELHET_NIN_KEY" in result.stderr


def test_embedded_mode_generates_keys_once(tmp_path):
    env = {"HELHET_DATA_DIR": str(tmp_path)}
    assert _helhet("check", env=env).returncode == 0
    keys = (tmp_path / "secrets.json").read_text()
    assert oct((tmp_path / "secrets.json").stat().st_mode)[-3:] == "600"
    assert _helhet("check", env=env).returncode == 0
    assert (tmp_path / "secrets.json").read_text() == keys
