"""The ASGI shell of a FastStream service: its broker plus ``/healthz`` (the process runs) and
``/readyz`` (the broker answers), served by uvicorn on ``HTTP_PORT``, and the AsyncAPI document
at ``/asyncapi``."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream, AsgiResponse, get, make_ping_asgi
from faststream.asgi.types import Scope
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from calsync_platform.logs import configure_logging
from calsync_platform.settings import ServiceSettings
from calsync_platform.telemetry import configure_telemetry


@get(include_in_schema=False)
async def healthz(scope: Scope) -> AsgiResponse:
    return AsgiResponse(b'{"status":"ok"}', 200, headers={"content-type": "application/json"})


def asyncapi_spec(broker: KafkaBroker, service_name: str, description: str) -> AsyncAPI:
    return AsyncAPI(broker, title=service_name, version="1.0.0", description=description)


def build_service_app(broker: KafkaBroker, service_name: str, description: str) -> AsgiFastStream:
    return AsgiFastStream(
        broker,
        asgi_routes=[("/healthz", healthz), ("/readyz", make_ping_asgi(broker, timeout=5.0))],
        specification=asyncapi_spec(broker, service_name, description),
        asyncapi_path="/asyncapi",
    )


def init_process(settings: ServiceSettings, service_name: str) -> None:
    """Process-wide set-up every service does first: JSON logs and tracing."""
    configure_logging(service_name, settings.log_level)
    configure_telemetry(service_name, settings.otel_exporter_otlp_endpoint)


def serve(app: AsgiFastStream, settings: ServiceSettings) -> None:
    import uvicorn

    uvicorn.run(app, host="0.0.0.0", port=settings.http_port, log_config=None)  # noqa: S104
