"""What ops see and use: metrics and health over HTTP, logs, systemd, and the snapshot they read."""
