"""The job contract every kennel service shares: what a job is, how it is queued and read.

The API and the bot submit through `jobs.client.JobClient`; workers consume what it queues.
Nothing here imports onnxruntime, FastAPI or aiogram.
"""
