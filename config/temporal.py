"""Connecting to Temporal with the OMS's data converter (pydantic payloads)."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import GrpcCompression

from config.settings import Settings


async def connect_temporal(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        grpc_compression=GrpcCompression.GZIP
        if settings.temporal_compression == "gzip"
        else GrpcCompression.NONE,
    )
