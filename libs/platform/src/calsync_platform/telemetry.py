"""OpenTelemetry set-up and W3C trace-context propagation.

A trace follows a request across processes in the ``traceparent`` header (W3C Trace Context):
the API request span → the outbox row's ``headers`` → the Kafka record headers written by the
relay → FastStream's ``KafkaTelemetryMiddleware`` in every consumer, which continues the trace.
Export is off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; spans are still created, so ids
propagate and log lines carry them.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def configure_telemetry(service_name: str, otlp_endpoint: str | None) -> TracerProvider:
    """Install a tracer provider for this process; add the OTLP exporter when configured."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def inject_trace_headers() -> dict[str, str]:
    """The current trace context as headers (empty when no span is active)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract_trace_context(headers: Mapping[str, str]) -> Context:
    return propagate.extract(dict(headers))


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
