"""The benchmark (`make bench`): each served model's ceiling and kennel's throughput under load.

- `bench.models`: what a model is (parameters, ONNX size, accuracy if it was evaluated);
- `bench.ceiling`: images/s of preprocessing + ONNX Runtime in-process, no queue and no HTTP;
- `bench.load`: Locust (headless, a subprocess) against a running system, per concurrency;
- `bench.totals`: batch sizes and failed jobs, from Prometheus or the workers' /metrics;
- `bench.report`, `bench.plots`: BENCHMARKS.md and its PNG plots;
- `python -m bench`: starts a LocalSystem and runs all of it.
"""
