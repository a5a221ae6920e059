# The one list of kennel's commands. `make up` runs the system, `make test` runs every test.
UV_VERSION := 0.13.9
UV := .tools/bin/uv
PY := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never

.PHONY: up bot test test-fast lint lint-deps format models serving-deps bot-deps test-deps data \
	train export evaluate loadtest bench loadtest-deps tune pretrain mlflow-ui reproduce-seed

up: serving-deps ## run Redis (or use KENNEL_REDIS_URL), a worker, the webhook deliverer and the API
	$(PY) -m stack

bot: bot-deps ## run the Telegram bot (needs KENNEL_BOT_TOKEN and a running kennel; docs/bot.md)
	$(PY) -m bot

test: test-deps ## install everything the tests need and run the whole suite
	$(PY) -m pytest

test-fast: test-deps ## only the in-process tests (no worker, API or Prometheus started)
	$(PY) -m pytest -m "not system"

lint: lint-deps ## ruff (lint and format check) and mypy, without the training extra (no torch)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: test-deps
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Load test a running kennel (`make up` in another terminal), headless; results in var/loadtest.
USERS ?= 16
SPAWN_RATE ?= 4
DURATION ?= 60s
HOST ?= http://127.0.0.1:8000
LOCUST_USERS ?= JobUser PredictUser
loadtest: loadtest-deps ## Locust against HOST: USERS, SPAWN_RATE, DURATION, LOCUST_USERS
	$(PY) -m locust -f loadtests/locustfile.py $(LOCUST_USERS) --headless -u $(USERS) \
		-r $(SPAWN_RATE) -t $(DURATION) --host $(HOST) --csv var/loadtest/locust --only-summary

# Starts its own kennel and the naive server; writes BENCHMARKS.md, docs/bench/*.png and the
# README's table (about 17 minutes on 2 cores for the two default models).
BENCH_CLIENTS ?= 1,8,32
BENCH_SECONDS ?= 15
BENCH_ROUNDS ?= 3
BENCH_WORKERS ?= 1
bench: loadtest-deps ## measure every model under models/: BENCH_CLIENTS, BENCH_SECONDS, BENCH_ROUNDS, BENCH_WORKERS
	$(PY) -m bench --clients $(BENCH_CLIENTS) --seconds $(BENCH_SECONDS) \
		--rounds $(BENCH_ROUNDS) --workers $(BENCH_WORKERS)

models: test-deps ## re-export the default models in models/ (needs torch and timm)
	$(PY) -m training export-pretrained --out models

# Training (docs/training.md): make data, make train MODEL=efficientnet_b0, make export, make evaluate
MODEL ?= efficientnet_b0
NAME ?= $(MODEL)
RUN ?= runs/$(MODEL)
DATA ?= data/imagewoof2-320

data: test-deps ## download, verify and unpack Imagewoof into data/
	$(PY) -m training data imagewoof --root $(dir $(DATA))

train: test-deps ## fine-tune MODEL (training/configs/MODEL.yaml) on DATA into RUN; extra flags in ARGS
	$(PY) -m training fit -c training/configs/$(MODEL).yaml --data $(DATA) --out $(RUN) $(ARGS)

export: test-deps ## export RUN to models/NAME (ARGS=--int8 adds models/NAME-int8)
	$(PY) -m training export $(RUN) --name $(NAME) $(ARGS)

evaluate: test-deps ## evaluate models/NAME on DATA/val through the serving code
	$(PY) -m training evaluate models/$(NAME) $(DATA)/val

# Search (docs/training.md): TRIALS trials of MODEL's config on DATA, study in TUNE_OUT (resumes)
TRIALS ?= 20
TUNE_OUT ?= runs/tune-$(MODEL)
tune: test-deps ## Optuna search over fit's settings; best config in TUNE_OUT/best.yaml; ARGS
	$(PY) -m training tune -c training/configs/$(MODEL).yaml --data $(DATA) --trials $(TRIALS) \
		--out $(TUNE_OUT) $(ARGS)

PRETRAIN_EPOCHS ?= 100
pretrain: test-deps ## Barlow Twins on DATA's images into runs/pretrain-MODEL (then fit --init)
	$(PY) -m training pretrain --method barlow --model $(MODEL) --data $(DATA) \
		--epochs $(PRETRAIN_EPOCHS) --out runs/pretrain-$(MODEL) $(ARGS)

# The full mlflow (its web server) is fetched by uv on demand; the training extra has the client.
MLFLOW_PORT ?= 5000
mlflow-ui: $(UV) ## serve the local MLflow store (runs/mlruns) on 127.0.0.1:MLFLOW_PORT
	MLFLOW_ALLOW_FILE_STORE=true $(UV) tool run --from mlflow mlflow ui \
		--backend-store-uri runs/mlruns --host 127.0.0.1 --port $(MLFLOW_PORT)

# The seed's ladder on Imagewoof (B0-B4, ConvNeXt-T, Lite0, Lite0 distilled from the best), then
# the benchmark of the exported models. Hours on one GPU (docs/training.md); ARGS go to every fit.
reproduce-seed: data ## fit, export, evaluate the ladder; runs/seed/SEED_TABLE.md, BENCHMARKS.md
	$(PY) -m training reproduce-seed --data $(DATA) --runs runs/seed --models-dir models $(ARGS)
	$(MAKE) bench

# Serving needs no torch: the API, a worker and the embedded Redis.
serving-deps: $(UV)
	$(UV) sync --frozen --inexact --no-dev --extra api --extra worker --extra local

bot-deps: $(UV)
	$(UV) sync --frozen --inexact --no-dev --extra bot

loadtest-deps: $(UV)
	$(UV) sync --frozen --inexact --no-dev --extra api --extra worker --extra local --extra loadtest
	@mkdir -p var/loadtest

# What ruff and mypy need: every service's extra and the dev group, not training's torch.
lint-deps: $(UV)
	$(UV) sync --frozen --inexact --extra api --extra worker --extra local --extra bot \
		--extra loadtest

test-deps: $(UV)
	$(UV) sync --frozen --all-extras

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)
