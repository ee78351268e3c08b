"""The wire format, written down once: enums, the register field table, requests and records."""
