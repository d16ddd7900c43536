"""The `oms` command: start each part of the OMS and hold the operator's tools."""
