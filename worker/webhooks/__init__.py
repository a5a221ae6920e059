"""The webhook deliverer, `python -m worker.webhooks`: its own process, off the inference path."""
