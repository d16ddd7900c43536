"""Settings of the OMS, read from the environment (prefix OMS_)."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
