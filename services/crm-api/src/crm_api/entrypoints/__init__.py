"""FastAPI routers and Kafka subscribers: they only translate."""
