"""The HTTP API: submit images as jobs, read them back, or wait for a prediction."""
