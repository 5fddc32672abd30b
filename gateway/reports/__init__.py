"""Reports per owner and location over a period: ``desk`` (the main loop's part), ``report`` (the sums)."""
