"""crm-api's Kafka side: the outbox relay, and the consumers of provider changes and connection
statuses. Entry points only translate; the rules live in ``inbound_rules`` (pure) and the
service layer."""
