"""Who is asking: configuration (``MaiConfig``), credentials and where they come from, IAM sign-in."""
