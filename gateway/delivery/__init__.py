"""From a stored event to the broker: the outbox (a durable queue), the dispatcher (what is in flight),
the MQTT publisher, topics and EPCIS documents."""
