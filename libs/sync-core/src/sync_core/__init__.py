"""Provider-neutral sync logic with no Kafka, HTTP or SQL inside."""
