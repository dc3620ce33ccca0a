"""Data access: PynamoDB models (kept inside this package) and the repositories that map them."""
