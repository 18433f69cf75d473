// The draw-a-digit page: drawing, live predictions, feature maps, and "how is this value made".
// Served as /app.js (no inline script, so a Content-Security-Policy of script-src 'self' holds).
// Every string that comes from the model (layer names, messages) goes in with textContent.
"use strict";
const pad = document.getElementById("pad");
const ctx = pad.getContext("2d", { willReadFrequently: true });
const seen = document.getElementById("seen");
const seenCtx = seen.getContext("2d", { willReadFrequently: true });
const statusLine = document.getElementById("status");
const PEN_WIDTH = 20;
const MIN_INTERVAL_MS = 120;

// State the end-to-end test reads: `version` counts changes to the drawing, `shown` is the
// version whose answer is on screen, `busy` is true while a request is on its way.
// `explained` is the last explain answer on screen (null when none), `explaining` counts
// explain requests under way.
const state = { version: 0, shown: 0, sent: -1, busy: false, last: null, requests: 0,
                explained: null, explaining: 0 };
window.tinycnn = state;

function clearPad() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, pad.width, pad.height);
}

// --- drawing with pointer events (mouse, pen and touch alike) ---------------------------
let drawing = false;
let lastPoint = null;

function toCanvas(event) {
  const rect = pad.getBoundingClientRect();
  return [(event.clientX - rect.left) * pad.width / rect.width,
          (event.clientY - rect.top) * pad.height / rect.height];
}

function strokeTo(point) {
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = PEN_WIDTH;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(lastPoint[0], lastPoint[1]);
  ctx.lineTo(point[0], point[1]);
  ctx.stroke();
  lastPoint = point;
  state.version += 1;
  schedule();
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  drawing = true;
  lastPoint = toCanvas(event);
  strokeTo(lastPoint);
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  event.preventDefault();
  for (const e of (event.getCoalescedEvents ? event.getCoalescedEvents() : [event])) {
    strokeTo(toCanvas(e));
  }
});
for (const name of ["pointerup", "pointercancel"]) {
  pad.addEventListener(name, () => { drawing = false; schedule(); });
}

document.getElementById("clear").addEventListener("click", () => {
  clearPad();
  state.version += 1;
  state.shown = state.version;
  showBlank("Draw a digit 0\u20139 with the mouse or a finger.");
});

// --- live predictions, throttled: one request at a time, at most every MIN_INTERVAL_MS ---
let timer = null;
let lastSentAt = 0;

function schedule() {
  if (state.busy || timer !== null || state.sent === state.version) return;
  const wait = Math.max(0, lastSentAt + MIN_INTERVAL_MS - performance.now());
  timer = setTimeout(() => { timer = null; send(); }, wait);
}

function canvasPixels() {
  const rgba = ctx.getImageData(0, 0, pad.width, pad.height).data;
  const grey = new Array(pad.width * pad.height);
  for (let i = 0; i < grey.length; i++) grey[i] = rgba[4 * i];
  return grey;
}

async function send() {
  const version = state.version;
  state.busy = true;
  state.sent = version;
  lastSentAt = performance.now();
  state.requests += 1;
  try {
    const response = await fetch("/api/predict", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ width: pad.width, height: pad.height, pixels: canvasPixels() }),
    });
    const answer = await response.json();
    if (version >= state.shown) {
      if (response.ok) show(answer); else showBlank(answer.error || "error");
      state.shown = version;
    }
  } catch (error) {
    statusLine.textContent = "The server did not answer: " + error;
  } finally {
    state.busy = false;
    if (state.version !== state.sent) schedule();
  }
}

// --- showing an answer -------------------------------------------------------------------
function show(answer) {
  state.last = answer;
  hideExplanation();  // it explained the previous drawing
  const image = seenCtx.createImageData(28, 28);
  answer.image.forEach((v, i) => {
    image.data.set([v, v, v, 255], 4 * i);
  });
  seenCtx.putImageData(image, 0, 0);
  const p = answer.probabilities;
  document.getElementById("prediction").textContent = String(answer.prediction);
  document.getElementById("confidence").textContent =
    (100 * p[answer.prediction]).toFixed(1) + "% sure";
  showBars(p, answer.prediction);
  showMaps(answer.feature_maps);
  statusLine.textContent = "";
}

function showBlank(message) {
  state.last = null;
  seenCtx.fillStyle = "#000";
  seenCtx.fillRect(0, 0, 28, 28);
  clearMaps();
  hideExplanation();
  document.getElementById("prediction").textContent = "\u00a0";
  document.getElementById("confidence").textContent = "";
  showBars(new Array(10).fill(0), -1);
  statusLine.textContent = message;
}

function showBars(p, best) {
  const bars = document.getElementById("bars");
  if (bars.children.length !== 3 * p.length) {
    bars.replaceChildren();
    p.forEach((_, k) => {
      const label = element("span", "label", String(k));
      label.id = `label-${k}`;
      const bar = element("span", "bar");
      bar.id = `bar-${k}`;
      bar.appendChild(document.createElement("div"));
      const pct = element("span", "pct");
      pct.id = `pct-${k}`;
      bars.append(label, bar, pct);
    });
  }
  p.forEach((v, k) => {
    for (const part of ["label", "bar", "pct"]) {
      document.getElementById(`${part}-${k}`).classList.toggle("best", k === best);
    }
    document.getElementById(`bar-${k}`).firstChild.style.width = (100 * v).toFixed(1) + "%";
    document.getElementById(`pct-${k}`).textContent = (100 * v).toFixed(1) + "%";
  });
}

// A dark-purple-to-yellow ramp (like matplotlib's "magma") for activations: 0 black.
const RAMP = [[0, 0, 4], [81, 18, 124], [183, 55, 121], [252, 137, 97], [252, 253, 191]];
const LUT = Array.from({ length: 256 }, (_, v) => {
  const t = v / 255 * (RAMP.length - 1);
  const i = Math.min(Math.floor(t), RAMP.length - 2);
  const f = t - i;
  return RAMP[i].map((c, j) => Math.round(c + f * (RAMP[i + 1][j] - c)));
});

function element(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function scaleMode() {
  return document.querySelector('input[name="scale"]:checked').value;
}

// The server sends each map scaled to its own range: byte = 255 (v - low) / (high - low).
// "one range per layer" turns the bytes back into values and rescales them with the lowest
// low and the highest high of the layer, so a weak map looks weak.
function displayBytes(l, bytes, f, size) {
  const own = bytes.subarray(f * size, (f + 1) * size);
  if (scaleMode() === "map") return own;
  const low = Math.min(...l.low), high = Math.max(...l.high);
  const span = high > low ? high - low : 1;
  return own.map((b) => {
    const v = l.low[f] + b / 255 * (l.high[f] - l.low[f]);
    return Math.round(255 * (v - low) / span);
  });
}

const MAPS_HINT = "They appear once you draw. Click a map to see how one of its values is computed.";

function clearMaps() {
  const box = document.getElementById("layers");
  box.replaceChildren(element("p", "caption", MAPS_HINT));
  delete box.dataset.signature;
}

function showMaps(layers) {
  const box = document.getElementById("layers");
  const signature = layers.map((l) => `${l.layer}:${l.height}x${l.width}x${l.channels}`).join();
  if (box.dataset.signature !== signature) {
    box.dataset.signature = signature;
    box.replaceChildren();
    layers.forEach((l, k) => {
      const zoom = Math.max(1, Math.round(52 / l.width));
      const div = element("div", "layer");
      const title = element("h3", "", l.layer + " ");
      title.appendChild(element("span", "",
        `${l.channels} maps of ${l.height}\u00d7${l.width}; click one`));
      const grid = element("div", "grid");
      div.append(title, grid);
      for (let f = 0; f < l.channels; f++) {
        const c = document.createElement("canvas");
        c.width = l.width; c.height = l.height;
        c.style.width = `${zoom * l.width}px`; c.style.height = `${zoom * l.height}px`;
        c.dataset.layer = String(k);
        c.dataset.channel = String(f);
        c.addEventListener("click", (event) => pick(c, event));
        grid.appendChild(c);
      }
      box.appendChild(div);
    });
  }
  drawMaps(layers);
}

function drawMaps(layers) {
  const box = document.getElementById("layers");
  layers.forEach((l, n) => {
    const bytes = Uint8Array.from(atob(l.data), (ch) => ch.charCodeAt(0));
    const size = l.height * l.width;
    const canvases = box.children[n].querySelectorAll("canvas");
    canvases.forEach((c, f) => {
      const shown = displayBytes(l, bytes, f, size);
      const g = c.getContext("2d");
      const img = g.createImageData(l.width, l.height);
      for (let i = 0; i < size; i++) {
        img.data.set(LUT[shown[i]], 4 * i);
        img.data[4 * i + 3] = 255;
      }
      g.putImageData(img, 0, 0);
      c.title = `map ${f}: ${l.low[f].toFixed(2)} .. ${l.high[f].toFixed(2)}`;
    });
  });
}

for (const radio of document.querySelectorAll('input[name="scale"]')) {
  radio.addEventListener("change", () => { if (state.last) drawMaps(state.last.feature_maps); });
}

// --- how one value is computed: click a map, get its filter and multiply-adds -------------
async function pick(canvas, event) {
  const rect = canvas.getBoundingClientRect();
  const col = Math.min(canvas.width - 1, Math.floor((event.clientX - rect.left) *
                                                    canvas.width / rect.width));
  const row = Math.min(canvas.height - 1, Math.floor((event.clientY - rect.top) *
                                                     canvas.height / rect.height));
  const version = state.version;
  state.explaining += 1;
  try {
    const response = await fetch("/api/explain", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ width: pad.width, height: pad.height, pixels: canvasPixels(),
                             layer: Number(canvas.dataset.layer),
                             channel: Number(canvas.dataset.channel), row, col }),
    });
    const answer = await response.json();
    if (version !== state.version) return;  // the drawing changed meanwhile
    if (!response.ok) { statusLine.textContent = answer.error || "error"; return; }
    for (const c of document.querySelectorAll(".grid canvas.picked")) {
      c.classList.remove("picked");
    }
    canvas.classList.add("picked");
    showExplanation(answer);
  } catch (error) {
    statusLine.textContent = "The server did not answer: " + error;
  } finally {
    state.explaining -= 1;
  }
}

const fmt = (v) => v.toFixed(3);

function showExplanation(a) {
  state.explained = a;
  const panel = document.getElementById("explain");
  panel.hidden = false;
  document.getElementById("explain-what").textContent =
    `${a.layer}, map ${a.channel}, row ${a.row}, column ${a.col}: ` +
    `${a.filter.length} input channel(s), so ${a.filter.length} filter(s) of ` +
    `${a.filter[0].length}\u00d7${a.filter[0][0].length}.`;
  const total = a.channel_sums.reduce((s, v) => s + v, 0);
  const act = a.activation ? `${a.activation}(${fmt(a.z)}) = ` : "";
  document.getElementById("sum").textContent =
    `\u03a3 products = ${fmt(total)};  + bias ${fmt(a.bias)} = ${fmt(a.z)};  ` +
    `${act}${fmt(a.value)}, the value of this pixel of the map.`;
  const filters = document.getElementById("filters");
  filters.replaceChildren();
  a.filter.forEach((rows, c) => {
    const table = element("table", "filter");
    table.dataset.channel = String(c);
    table.appendChild(element("caption", "",
      `input ${c}: sum ${fmt(a.channel_sums[c])}`));
    rows.forEach((ws, p) => {
      const tr = document.createElement("tr");
      ws.forEach((w, q) => {
        const td = document.createElement("td");
        td.dataset.weight = String(w);
        td.append(element("div", "w", fmt(w)),
                  element("div", "x", "\u00d7 " + fmt(a.window[c][p][q])),
                  element("div", "p", "= " + fmt(a.products[c][p][q])));
        tr.appendChild(td);
      });
      table.appendChild(tr);
    });
    filters.appendChild(table);
  });
  outlineField(a.receptive_field);
}

function outlineField(rf) {
  const field = document.getElementById("field");
  const g = field.getContext("2d");
  const z = field.width / 28;
  g.clearRect(0, 0, field.width, field.height);
  if (!rf) return;
  g.strokeStyle = "#d9480f";
  g.lineWidth = 2;
  g.strokeRect(rf.left * z + 1, rf.top * z + 1,
               (rf.right - rf.left + 1) * z - 2, (rf.bottom - rf.top + 1) * z - 2);
}

function hideExplanation() {
  state.explained = null;
  document.getElementById("explain").hidden = true;
  document.getElementById("filters").replaceChildren();
  outlineField(null);
}

fetch("/api/model").then((r) => r.json()).then((info) => {
  document.getElementById("model-info").textContent =
    `Model: ${info.layers.join(" \u2192 ")} (${info.params.toLocaleString("en")} parameters).`;
}).catch(() => {});

clearPad();
showBlank(statusLine.textContent);
