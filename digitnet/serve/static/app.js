// digitnet serve: draw or choose a digit, show a(1), a(2), a(3) and why; teach one backprop step.
// Plain browser JavaScript, no libraries. Every server answer is JSON; an error is shown in
// #error and the page keeps working.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { reading: null, chosen: 0, label: null, model: null, busy: false, pending: null };

// -- talking to the server ----------------------------------------------------------------

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error("the server did not answer — is `digitnet serve` still running?");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    throw new Error(`the server sent an unreadable answer (HTTP ${response.status})`);
  }
  if (!response.ok) throw new Error(body && body.error ? body.error : `HTTP ${response.status}`);
  return body;
}

function postJSON(path, data) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(data),
  });
}

function showError(message) {
  const box = $("error");
  box.textContent = message ? `Error: ${message}` : "";
  box.hidden = !message;
}

// -- drawing pad ----------------------------------------------------------------------------

const pad = $("pad");
const ctx = pad.getContext("2d");
let drawnRect = { x: 0, y: 0, w: pad.width, h: pad.height }; // where the image is on the pad
let lastImage = null; // the picture under the boxes (a copy of the pad without them)
let drawing = false;

function clearPad() {
  ctx.fillStyle = "white";
  ctx.fillRect(0, 0, pad.width, pad.height);
  drawnRect = { x: 0, y: 0, w: pad.width, h: pad.height };
  lastImage = null;
}

function padPoint(event) {
  const rect = pad.getBoundingClientRect();
  return {
    x: ((event.clientX - rect.left) * pad.width) / rect.width,
    y: ((event.clientY - rect.top) * pad.height) / rect.height,
  };
}

pad.addEventListener("pointerdown", (event) => {
  if (lastImage) restorePad(); // drawing on a picture: remove the boxes first
  drawing = true;
  pad.setPointerCapture(event.pointerId);
  const p = padPoint(event);
  ctx.strokeStyle = "black";
  ctx.lineWidth = 18;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(p.x, p.y);
  ctx.lineTo(p.x + 0.1, p.y);
  ctx.stroke();
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const p = padPoint(event);
  ctx.lineTo(p.x, p.y);
  ctx.stroke();
});
function endStroke() {
  if (!drawing) return;
  drawing = false;
  lastImage = ctx.getImageData(0, 0, pad.width, pad.height);
  pad.toBlob((blob) => readImage(blob, "image/png"), "image/png");
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

function restorePad() {
  if (lastImage) ctx.putImageData(lastImage, 0, 0);
}

$("clear").addEventListener("click", () => {
  clearPad();
  showError("");
  state.reading = null;
  $("answer").textContent = "—";
  for (const id of ["bars", "digit-choice", "units-up", "units-down"]) $(id).replaceChildren();
  $("teach").disabled = true;
  $("teach-result").hidden = true;
});

// -- choosing or dropping a file --------------------------------------------------------

function showFile(file) {
  // Draw the picture on the pad, fitted; if the browser cannot decode it the server says why.
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.onload = () => {
    clearPad();
    const scale = Math.min(pad.width / img.naturalWidth, pad.height / img.naturalHeight);
    const w = img.naturalWidth * scale;
    const h = img.naturalHeight * scale;
    drawnRect = { x: (pad.width - w) / 2, y: (pad.height - h) / 2, w, h };
    ctx.drawImage(img, drawnRect.x, drawnRect.y, w, h);
    lastImage = ctx.getImageData(0, 0, pad.width, pad.height);
    URL.revokeObjectURL(url);
    if (state.reading) drawBoxes(state.reading);
  };
  img.onerror = () => URL.revokeObjectURL(url);
  img.src = url;
}

function readFile(file) {
  if (!file) return;
  showFile(file);
  // A file the browser does not call an image is still sent: the server says what is wrong.
  readImage(file, file.type.startsWith("image/") ? file.type : "application/octet-stream");
}

$("file").addEventListener("change", (event) => {
  readFile(event.target.files[0]);
  event.target.value = ""; // choosing the same file again reads it again
});
pad.addEventListener("dragover", (event) => {
  event.preventDefault();
  pad.classList.add("dropping");
});
pad.addEventListener("dragleave", () => pad.classList.remove("dropping"));
pad.addEventListener("drop", (event) => {
  event.preventDefault();
  pad.classList.remove("dropping");
  readFile(event.dataTransfer.files[0]);
});

// -- reading ------------------------------------------------------------------------------

async function readImage(blob, type) {
  if (state.busy) {
    state.pending = [blob, type]; // strokes come faster than answers: read the latest only
    return;
  }
  state.busy = true;
  try {
    const single = $("single").checked ? "1" : "0";
    const reading = await api(`/api/read?single=${single}`, {
      method: "POST",
      headers: { "Content-Type": type },
      body: blob,
    });
    showError("");
    state.reading = reading;
    state.chosen = 0;
    showReading();
    $("status").textContent = `read in ${reading.server_ms.toFixed(1)} ms of server time`;
  } catch (err) {
    showError(err.message);
  } finally {
    state.busy = false;
    if (state.pending) {
      const [nextBlob, nextType] = state.pending;
      state.pending = null;
      readImage(nextBlob, nextType);
    }
  }
}

function percent(p) {
  return `${(100 * p).toFixed(1)}%`;
}

function showReading() {
  const reading = state.reading;
  const digit = reading.digits[state.chosen];
  const answer = $("answer");
  answer.textContent = reading.digits.length > 1 ? reading.number : String(digit.digit);
  answer.dataset.digit = answer.textContent;
  const note = document.createElement("span");
  note.className = reading.uncertain ? "note uncertain" : "note";
  note.textContent = reading.uncertain
    ? `? uncertain (${percent(reading.confidence)})`
    : percent(reading.confidence);
  answer.append(note);

  const choice = $("digit-choice");
  choice.replaceChildren();
  if (reading.digits.length > 1) {
    reading.digits.forEach((d, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = `${d.digit}${d.uncertain ? "?" : ""}`;
      b.title = `digit ${i + 1}: ${percent(d.confidence)}`;
      if (i === state.chosen) b.classList.add("chosen");
      b.addEventListener("click", () => {
        state.chosen = i;
        showReading();
      });
      choice.append(b);
    });
  }
  drawBoxes(reading);
  probabilityBars($("bars"), digit.a3, digit.digit);
  drawImage28($("a1"), digit.a1);
  drawGrid($("a2"), digit.a2, state.model && state.model.activation === "sigmoid" ? 1 : null);
  $("hidden-caption").textContent = `(${digit.a2.length} hidden units, brighter = larger)`;
  unitTiles($("units-up"), digit.units_up, "up");
  unitTiles($("units-down"), digit.units_down, "down");
  $("teach").disabled = state.label === null;
}

function drawBoxes(reading) {
  restorePad();
  if (reading.digits.length < 2) return;
  reading.digits.forEach((d, i) => {
    const [l, t, r, b] = d.box;
    ctx.strokeStyle = i === state.chosen ? "#2f855a" : "#2b6cb0";
    ctx.lineWidth = 2;
    ctx.strokeRect(
      drawnRect.x + l * drawnRect.w,
      drawnRect.y + t * drawnRect.h,
      (r - l) * drawnRect.w,
      (b - t) * drawnRect.h,
    );
  });
}

function probabilityBars(container, probs, top, before = null) {
  container.replaceChildren();
  probs.forEach((p, k) => {
    const label = document.createElement("span");
    label.textContent = String(k);
    const bar = document.createElement("div");
    bar.className = "bar";
    if (before) {
      const old = document.createElement("span");
      old.className = "before";
      old.style.width = percent(before[k]);
      bar.append(old);
    }
    const fill = document.createElement("span");
    fill.style.width = percent(p);
    if (before) fill.className = "after";
    else if (k === top) fill.className = "top";
    bar.append(fill);
    const value = document.createElement("span");
    value.textContent = before ? `${percent(before[k])}→${percent(p)}` : percent(p);
    container.append(label, bar, value);
  });
}

function signedBars(container, values, y) {
  container.replaceChildren();
  const peak = Math.max(1e-12, ...values.map(Math.abs));
  values.forEach((v, k) => {
    const label = document.createElement("span");
    label.textContent = `${k}${y[k] ? " y" : ""}`;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.style.width = `${(50 * Math.abs(v)) / peak}%`;
    if (v < 0) fill.className = "neg";
    bar.append(fill);
    const value = document.createElement("span");
    value.textContent = v.toFixed(4);
    container.append(label, bar, value);
  });
}

// A colour for a value: blue for +, red for −, white for 0; |v|/peak sets the depth.
function colour(v, peak) {
  const t = Math.min(1, Math.abs(v) / peak);
  const [r, g, b] = v >= 0 ? [43, 108, 176] : [192, 57, 43];
  return [255 + (r - 255) * t, 255 + (g - 255) * t, 255 + (b - 255) * t];
}

function drawImage28(canvas, values) {
  // a(1) as MNIST stores it: light ink (1) on black (0)
  const c = canvas.getContext("2d");
  const image = c.createImageData(28, 28);
  values.forEach((v, i) => {
    const level = Math.round(255 * v);
    image.data.set([level, level, level, 255], 4 * i);
  });
  const small = document.createElement("canvas");
  small.width = 28;
  small.height = 28;
  small.getContext("2d").putImageData(image, 0, 0);
  c.imageSmoothingEnabled = false;
  c.drawImage(small, 0, 0, canvas.width, canvas.height);
}

function drawTile(canvas, values, scale) {
  const c = canvas.getContext("2d");
  const image = c.createImageData(28, 28);
  values.forEach((v, i) => image.data.set([...colour(v, scale), 255], 4 * i));
  c.putImageData(image, 0, 0);
}

// H values as a square-ish grid of cells. fixedPeak: the colour scale (1 for sigmoid's
// [0, 1]); null: the largest |value|. Negative values (tanh, δ(2)) are red.
function drawGrid(canvas, values, fixedPeak) {
  const n = values.length;
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const cell = Math.max(1, Math.floor(Math.min(canvas.width / cols, canvas.height / rows)));
  const peak = fixedPeak || Math.max(1e-12, ...values.map(Math.abs));
  const c = canvas.getContext("2d");
  c.fillStyle = "#e9edf3";
  c.fillRect(0, 0, canvas.width, canvas.height);
  values.forEach((v, j) => {
    const [r, g, b] = colour(v, peak);
    c.fillStyle = `rgb(${r},${g},${b})`;
    c.fillRect((j % cols) * cell, Math.floor(j / cols) * cell, cell - (cell > 3), cell - (cell > 3));
  });
}

function unitTiles(container, units, direction) {
  container.replaceChildren();
  if (!units.length) {
    container.textContent = direction === "up" ? "no unit pushed it up" : "no unit pushed it down";
    return;
  }
  for (const u of units) {
    const box = document.createElement("div");
    box.className = "tile";
    const canvas = document.createElement("canvas");
    canvas.width = 28;
    canvas.height = 28;
    drawTile(canvas, u.tile, 100);
    const text = document.createElement("div");
    const sign = u.contribution >= 0 ? "+" : "";
    text.textContent = `unit ${u.unit}: a²=${u.a2.toFixed(2)}, ${sign}${u.contribution.toFixed(2)}`;
    box.append(canvas, text);
    container.append(box);
  }
}

// -- teaching ---------------------------------------------------------------------------------

for (let k = 0; k < 10; k += 1) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = String(k);
  b.dataset.label = String(k);
  b.addEventListener("click", () => {
    state.label = k;
    for (const other of $("labels").children) other.classList.toggle("chosen", other === b);
    $("teach").disabled = !state.reading;
  });
  $("labels").append(b);
}

$("teach").addEventListener("click", async () => {
  if (!state.reading || state.label === null) return;
  const digit = state.reading.digits[state.chosen];
  const eta = Number($("eta").value);
  try {
    const step = await postJSON("/api/teach", { a1: digit.a1, label: state.label, eta });
    showError("");
    showStep(step);
  } catch (err) {
    showError(err.message);
  }
});

function showStep(step) {
  $("teach-result").hidden = false;
  $("cost-line").textContent =
    `y = ${step.label}, η = ${step.eta}: J(θ) on this example ${step.cost_before.toFixed(4)} → ` +
    `${step.cost_after.toFixed(4)}; reads ${step.digit_after} after the step`;
  signedBars($("delta3"), step.delta3, step.y);
  drawGrid($("delta2"), step.delta2, null);
  drawGrid($("gradnorm"), step.grad_norm, null);
  const tiles = $("grad-tiles");
  tiles.replaceChildren();
  for (const u of step.grad_units) {
    const box = document.createElement("div");
    box.className = "tile";
    const canvas = document.createElement("canvas");
    canvas.width = 28;
    canvas.height = 28;
    drawTile(canvas, u.tile, 100);
    const text = document.createElement("div");
    text.textContent = `unit ${u.unit}: ‖∂J/∂θ‖=${u.norm.toPrecision(3)}`;
    box.append(canvas, text);
    tiles.append(box);
  }
  probabilityBars($("after"), step.a3_after, step.digit_after, step.a3_before);
  showTaught(step.taught_steps);
}

function showTaught(steps) {
  $("taught").textContent = steps
    ? `${steps} step(s) taught in this session, not saved — "Save a copy" writes a new file`
    : "the network is the checkpoint's";
}

$("reset").addEventListener("click", async () => {
  try {
    const answer = await postJSON("/api/reset", {});
    showError("");
    showTaught(answer.taught_steps);
    $("teach-result").hidden = true;
  } catch (err) {
    showError(err.message);
  }
});

$("save").addEventListener("click", async () => {
  try {
    const answer = await postJSON("/api/save", {});
    showError("");
    $("taught").textContent = `saved ${answer.steps} taught step(s) as ${answer.saved} in ${answer.folder}`;
  } catch (err) {
    showError(err.message);
  }
});

// -- the model -----------------------------------------------------------------------------

async function loadModel() {
  try {
    const model = await api("/api/model");
    state.model = model;
    const accuracy = model.metrics.test_accuracy;
    $("model-line").textContent =
      `${model.checkpoint}${model.bundled ? " (bundled with digitnet)" : ""}: ` +
      `${model.architecture} ${model.activation}, ${model.output} outputs` +
      (typeof accuracy === "number" ? `, MNIST test accuracy ${percent(accuracy)}` : "");
    const table = $("model-table");
    table.replaceChildren();
    const rows = { created: model.created, digitnet: model.digitnet_version, ...model.config };
    for (const [key, value] of Object.entries({ ...rows, ...model.metrics })) {
      const tr = document.createElement("tr");
      const k = document.createElement("td");
      const v = document.createElement("td");
      k.textContent = key;
      v.textContent = typeof value === "number" ? String(Number(value.toPrecision(6))) : String(value);
      tr.append(k, v);
      table.append(tr);
    }
    showTaught(model.taught_steps);
  } catch (err) {
    showError(err.message);
  }
}

clearPad();
loadModel();
