"""kennel's Python client: `from kennel.client import Client`; `python -m kennel classify`."""
