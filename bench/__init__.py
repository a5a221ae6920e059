"""The benchmark (`make bench`): the ceiling, a naive server and kennel, side by side, per model.

- `bench.models`: what a model is (parameters, ONNX size, accuracy if it was evaluated);
- `bench.ceiling`: images/s of preprocessing + ONNX Runtime in-process, no queue and no HTTP;
- `bench.naive`: the "no queue" reference, a naive FastAPI server with the same model code;
- `bench.loadgen`: the closed-loop aiohttp load generator (its own process); every answer checked;
- `bench.load`: one measurement: the load generator against one system, CPU per process;
- `bench.cpu`, `bench.totals`: CPU time per process (psutil); the workers' batch sizes;
- `bench.report`, `bench.plots`: medians over rounds into BENCHMARKS.md, the README, PNG plots;
- `python -m bench`: starts a LocalSystem and the naive server and runs all of it.
"""
