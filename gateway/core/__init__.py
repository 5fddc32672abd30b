"""From reads to events: read points, filters, door arbitration, presence, scans and their fusion.
Plain logic on the main loop with the clock passed in."""
