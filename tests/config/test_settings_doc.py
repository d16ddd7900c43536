"""docs/settings.md is written from `Settings`: no setting is missing, none is stale."""

from pydantic import SecretStr

from config.settings import Settings
from config.settings_doc import DOC, default_text, render, undocumented


def test_docs_settings_md_is_the_one_settings_writes():
    assert DOC.read_text() == render(), (
        "docs/settings.md is out of date: run .venv/bin/python -m config.settings_doc"
    )


def test_every_setting_says_what_it_is_for():
    # A comment beside the field (or a Field description) is what the page shows.
    assert undocumented() == []


def test_every_setting_is_on_the_page_under_its_variable():
    page = DOC.read_text()
    for name in Settings.model_fields:
        assert f"| `OMS_{name.upper()}` |" in page


def test_a_secret_never_shows_its_value():
    assert default_text(SecretStr("s3cret-value")) == "set"
    assert default_text(SecretStr("")) == "empty"
    assert "s3cret" not in render()
