"""python -m bench.replication: what waiting for a replica (WAIT) costs one submission.

A master and one replica (redis-servers on loopback, no persistence); one client submits the
same JPEG one job at a time through `JobClient.submit`, with KENNEL_REDIS_MIN_REPLICAS 0 (the
submit script alone) and 1 (the script, then WAIT 1), in shuffled rounds. Prints the median and
the 90th percentile of each, in ms per submission. The figures are in docs/deploy.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

import redis

from jobs import protocol
from jobs.client import JobClient
from jobs.contract import QUEUE_NAME, ModelInfo
from jobs.settings import QueueSettings
from stack.processes import ROOT, wait_until
from stack.redis import EmbeddedRedis

PHOTO = ROOT / "tests" / "data" / "photos" / "grad_dog_cat.jfif"
MODEL = ModelInfo(name="imagewoof", labels=["a", "b"])


async def _timed_submissions(settings: QueueSettings, image: bytes, count: int) -> list[float]:
    client = JobClient.connect(settings)
    try:
        await client.submit(image, MODEL.name, 1, "bench")  # connect and read the models
        times = []
        for _ in range(count):
            started = time.perf_counter()
            await client.submit(image, MODEL.name, 1, "bench")
            times.append((time.perf_counter() - started) * 1000)
        return times
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=300, help="per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    image = PHOTO.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        master = EmbeddedRedis(Path(tmp, "master"), Path(tmp, "logs"), persist=False).start()
        replica_of = ("--replicaof", "127.0.0.1", str(master.port))
        replica = EmbeddedRedis(
            Path(tmp, "replica"), Path(tmp, "logs"), persist=False, options=replica_of
        ).start()
        try:
            with redis.Redis.from_url(master.url) as client:
                wait_until(lambda: client.info("replication")["connected_slaves"] == 1, 10, "sync")
                protocol.announce(client, "bench", [MODEL], ttl_s=3600)
            results: dict[int, list[float]] = {0: [], 1: []}
            for _ in range(args.rounds):
                for replicas in random.sample(list(results), len(results)):
                    settings = QueueSettings(redis_url=master.url, redis_min_replicas=replicas)
                    results[replicas] += asyncio.run(
                        _timed_submissions(settings, image, args.submissions)
                    )
                    with redis.Redis.from_url(master.url) as client:
                        client.delete(QUEUE_NAME, protocol.QUEUED)
        finally:
            replica.stop()
            master.stop()
    print(f"{len(image)} byte JPEG, {args.rounds} x {args.submissions} submissions per variant")
    for replicas, times in results.items():
        deciles = statistics.quantiles(times, n=10)
        print(
            f"min replicas {replicas}: median {statistics.median(times):.2f} ms, "
            f"p90 {deciles[-1]:.2f} ms"
        )


if __name__ == "__main__":
    main()
