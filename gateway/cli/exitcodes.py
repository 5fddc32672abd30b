"""What ``dockgate`` exits with."""

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_CONFIG = 2
