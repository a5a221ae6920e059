"""Celery workers that hold ONNX Runtime models and classify queued images in batches."""
