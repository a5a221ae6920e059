// kennel's page: send an image, follow its job, show the predictions. No build step.
const NOT_SURE_BELOW = 0.4; // the bot's default confidence threshold
const WAIT_S = 25; // how long one GET /jobs/{id}?wait may wait, if the events stream broke
const $ = (id) => document.getElementById(id);

function headers() {
  const key = $("key").value.trim();
  sessionStorage.setItem("kennel-api-key", key);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    Object.assign(this, { status, code });
  }
}

async function call(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...headers(), ...options.headers } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = body.error || { code: `http_${response.status}`, message: response.statusText };
    throw new ApiError(response.status, error.code, error.message);
  }
  return body;
}

const ended = (job) => !["queued", "running"].includes(job.status);

// The job's state changes from GET /jobs/{id}/events, read with fetch() (EventSource cannot
// send the Authorization header a typed-in key needs): yields each event's job.
async function* jobEvents(id) {
  const response = await fetch(`/jobs/${id}/events`, { headers: headers() });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    const error = body.error || { code: `http_${response.status}`, message: response.statusText };
    throw new ApiError(response.status, error.code, error.message);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === "" && data.length) {
        yield JSON.parse(data.join("\n"));
        data = [];
      } else if (line.startsWith("data:")) {
        data.push(line.slice(5).replace(/^ /, ""));
      } // `event:` names the state the data says too; `:` lines are keep-alives
    }
  }
}

// Calls onUpdate(job) with each state until the job ends, and returns the ended job: from the
// events stream, and, should the stream break before the end, by waiting on GET /jobs/{id}.
async function followJob(job, onUpdate) {
  onUpdate(job);
  if (ended(job)) return job;
  for await (const update of jobEvents(job.id)) {
    job = update;
    onUpdate(job);
  }
  while (!ended(job)) {
    job = await call(`/jobs/${job.id}?wait=${WAIT_S}`);
    onUpdate(job);
  }
  return job;
}

function showError(error) {
  const status = error.status ? `${error.status} ` : "";
  $("error").textContent = `${status}${error.code ?? "error"}: ${error.message}`;
  $("error").hidden = false;
}

function showPredictions(predictions) {
  $("predictions").replaceChildren(
    ...predictions.map((p, i) => {
      const item = document.createElement("li");
      item.innerHTML = `<div class="row"><span class="label"></span><span class="score"></span></div>
        <div class="bar"></div>`;
      item.id = `prediction-${i}`;
      item.querySelector(".label").textContent = p.label;
      item.querySelector(".score").textContent = `${(p.score * 100).toFixed(1)}%`;
      item.querySelector(".bar").style.width = `${Math.max(p.score * 100, 0.5)}%`;
      return item;
    }),
  );
  $("unsure").hidden = !predictions.length || predictions[0].score >= NOT_SURE_BELOW;
}

async function classify(file) {
  $("error").hidden = true;
  $("job").hidden = false;
  $("preview").src = URL.createObjectURL(file);
  $("predictions").replaceChildren();
  $("unsure").hidden = true;
  $("state").textContent = "sending";
  $("states").textContent = "";
  $("job-id").textContent = "";
  const form = new FormData();
  form.append("image", file);
  form.append("model", $("model").value);
  form.append("top_k", "5");
  try {
    const submitted = await call("/jobs", { method: "POST", body: form });
    const seen = [];
    const job = await followJob(submitted, (j) => {
      $("job-id").textContent = j.id;
      $("state").textContent = j.status;
      if (seen.at(-1) !== j.status) seen.push(j.status);
      $("states").textContent = seen.join(" → ");
    });
    if (job.result) showPredictions(job.result.predictions);
    else if (job.error) showError({ code: job.error.code, message: job.error.message });
  } catch (error) {
    $("state").textContent = "refused";
    showError(error);
  }
}

async function loadModels() {
  try {
    const { models, default: chosen } = await call("/models");
    $("model").replaceChildren(
      ...models.map((m) => new Option(m.name, m.name, m.name === chosen, m.name === chosen)),
    );
  } catch (error) {
    showError(error);
  }
}

async function refreshStatus() {
  try {
    const status = await call("/status");
    $("status").textContent = `queue: ${status.queue_depth} · workers up: ${status.workers.length}`;
  } catch (error) {
    $("status").textContent = `status unavailable (${error.code})`;
  }
}

function firstImage(files) {
  return Array.from(files || []).find((f) => f) || null;
}

function wire() {
  $("key").value = sessionStorage.getItem("kennel-api-key") || "";
  for (const input of [$("file"), $("camera")]) {
    input.addEventListener("change", () => {
      const file = firstImage(input.files);
      input.value = ""; // so picking the same file again sends it again
      if (file) classify(file);
    });
  }
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = firstImage(e.dataTransfer.files);
    if (file) classify(file);
  });
  document.addEventListener("paste", (e) => {
    const file = firstImage(e.clipboardData.files);
    if (file) classify(file);
  });
}

wire();
loadModels();
refreshStatus();
setInterval(refreshStatus, 3000);
