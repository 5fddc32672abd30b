"""Shipments at the door: what should pass a door, checked against what does, while it happens.

``order`` (what is posted: the expected items, the door, the direction), ``book`` (the open shipments and
their verification, owned by the main loop), ``commands`` (posting, closing, cancelling from other threads:
the MQTT command topic and the HTTP API hand commands over and wait for the main loop's reply).
"""
