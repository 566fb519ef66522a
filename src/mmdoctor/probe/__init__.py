"""Probes: read the machine and the target interpreter into an Environment."""
