"""Settings from the environment; the live tenants file; tokens from the environment only."""

from pathlib import Path

import pytest

from pipelines.settings import Settings
from pipelines.tenants import MissingCredentialError, tenants_from_file, token_for


def test_settings_default_under_mos_home(tmp_path: Path) -> None:
    settings = Settings.from_env({"MOS_HOME": str(tmp_path)})
    assert settings.warehouse == tmp_path / "warehouse.duckdb"
    assert settings.serving == tmp_path / "serving" / "snapshot.duckdb"
    assert settings.mode == "sandbox" and settings.preset == "demo" and settings.dry_run is True
    assert Settings.from_env({"MOS_HOME": str(tmp_path), "MOS_DRY_RUN": "0"}).dry_run is False


def test_bad_mode_is_named() -> None:
    with pytest.raises(ValueError, match="MOS_MODE must be 'sandbox' or 'live', got 'prod'"):
        Settings.from_env({"MOS_MODE": "prod"})


def test_tenants_file_and_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "mos_tenants.yml"
    path.write_text(
        "tenants:\n"
        "  - tenant_id: acme\n    currency: USD\n    timezone: America/Chicago\n"
        "    meta_accounts: ['111']\n    google_ads_customers: ['123-456-7890']\n    hubspot: true\n"
    )
    (tenant,) = tenants_from_file(path)
    assert tenant.google_ads_customers == ("1234567890",)
    with pytest.raises(MissingCredentialError, match="MOS_ACME_META_TOKEN") as raised:
        token_for(tenant, "meta", sandbox=False)
    monkeypatch.setenv("MOS_ACME_META_TOKEN", "EAAB-secret-value")
    assert token_for(tenant, "meta", sandbox=False) == "EAAB-secret-value"
    assert "EAAB" not in str(raised.value)
    assert token_for(tenant, "meta", sandbox=True) == "sandbox-acme"


def test_a_bad_tenants_file_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "t.yml"
    path.write_text("tenants:\n  - tenant_id: acme\n    currency: USD\n")
    with pytest.raises(ValueError, match=r"t\.yml: tenants\[0\]: missing timezone"):
        tenants_from_file(path)
