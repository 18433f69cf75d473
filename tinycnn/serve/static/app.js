// The draw-a-digit page: drawing, live predictions, every layer of the network, "how is this
// value made", what the network looks at (saliency, occlusion) and fooling it.
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
// explain requests under way. `looks` is the saliency/occlusion answer on screen and
// `looksVersion` the drawing it belongs to; `fooled` the last fooling answer, `fooling` true
// while one is on its way; `errors` counts error messages the page showed.
const state = { version: 0, shown: 0, sent: -1, busy: false, last: null, requests: 0,
                explained: null, explaining: 0, looks: null, looksVersion: -1, looking: false,
                fooled: null, fooling: false, errors: 0 };
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
  if (point[0] === lastPoint[0] && point[1] === lastPoint[1]) {
    // A zero-length line draws nothing in some browsers: a click is a round dot.
    ctx.fillStyle = "#fff";
    ctx.arc(point[0], point[1], PEN_WIDTH / 2, 0, 2 * Math.PI);
    ctx.fill();
  } else {
    ctx.moveTo(lastPoint[0], lastPoint[1]);
    ctx.lineTo(point[0], point[1]);
    ctx.stroke();
  }
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
  pad.addEventListener(name, () => { drawing = false; schedule(); scheduleLooks(); });
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

async function postJSON(path, extra) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ width: pad.width, height: pad.height, pixels: canvasPixels(),
                           ...extra }),
  });
  return [response.ok, await response.json()];
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
    if (state.version !== state.sent) schedule(); else scheduleLooks();
  }
}

// --- showing an answer -------------------------------------------------------------------
function show(answer) {
  state.last = answer;
  hideExplanation();  // it explained the previous drawing
  drawGrey(seenCtx, answer.image);
  const p = answer.probabilities;
  document.getElementById("prediction").textContent = String(answer.prediction);
  document.getElementById("confidence").textContent =
    "probability " + (100 * p[answer.prediction]).toFixed(1) + "%";
  showBars(p, answer.prediction);
  showNetwork(answer.layers);
  statusLine.textContent = "";
}

function drawGrey(g, image) {
  const img = g.createImageData(28, 28);
  image.forEach((v, i) => { img.data.set([v, v, v, 255], 4 * i); });
  g.putImageData(img, 0, 0);
}

function showBlank(message) {
  state.last = null;
  seenCtx.fillStyle = "#000";
  seenCtx.fillRect(0, 0, 28, 28);
  clearMaps();
  hideExplanation();
  clearLooks();
  clearFooled();
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
const WHAT = {
  conv: (l) => `${l.channels} maps of ${l.height}\u00d7${l.width}: filters, then ReLU`,
  pool: (l) => `${l.channels} maps of ${l.height}\u00d7${l.width}: the largest of each window`,
  dense: (l) => `${l.values.length} units: weighted sums of everything below` +
                (l.activation ? `, then ${l.activation}` : ""),
  softmax: () => "the ten class probabilities (softmax of the scores)",
};

function clearMaps() {
  const box = document.getElementById("layers");
  box.replaceChildren(element("p", "caption", MAPS_HINT));
  delete box.dataset.signature;
}

function shapeOf(l) {
  if (l.kind === "conv" || l.kind === "pool") return `${l.height}x${l.width}x${l.channels}`;
  return String((l.values || l.probabilities).length);
}

function showNetwork(layers) {
  const box = document.getElementById("layers");
  const signature = layers.map((l) => `${l.kind}:${l.layer}:${shapeOf(l)}`).join();
  if (box.dataset.signature !== signature) {
    box.dataset.signature = signature;
    box.replaceChildren();
    const input = column("input", "the 28\u00d728 picture the network reads");
    const seenCopy = document.createElement("canvas");
    seenCopy.width = 28; seenCopy.height = 28; seenCopy.id = "input-column";
    seenCopy.style.width = "56px"; seenCopy.style.height = "56px";
    input.appendChild(seenCopy);
    box.appendChild(input);
    for (const l of layers) {
      box.appendChild(element("span", "arrow", "\u2192"));
      const div = column(l.layer, WHAT[l.kind](l));
      div.dataset.kind = l.kind;
      if (l.kind === "conv" || l.kind === "pool") div.appendChild(mapGrid(l));
      else if (l.kind === "dense") div.appendChild(unitGrid(l));
      else div.appendChild(classList(l));
      box.appendChild(div);
    }
  }
  drawGrey(document.getElementById("input-column").getContext("2d"), state.last.image);
  drawNetwork(layers);
}

function column(name, what) {
  const div = element("div", "column");
  div.append(element("h3", "", name), element("p", "what", what));
  return div;
}

function mapGrid(l) {
  // At least 2 screen pixels per value: a click (whole pixels) lands in the value aimed at.
  const zoom = Math.max(2, Math.round(24 / l.width));
  const grid = element("div", "grid");
  grid.style.gridTemplateColumns = `repeat(4, ${zoom * l.width}px)`;
  for (let f = 0; f < l.channels; f++) {
    const c = document.createElement("canvas");
    c.width = l.width; c.height = l.height;
    c.style.width = `${zoom * l.width}px`; c.style.height = `${zoom * l.height}px`;
    c.dataset.kind = l.kind;
    c.dataset.index = String(l.index);
    c.dataset.channel = String(f);
    c.tabIndex = 0;
    c.setAttribute("role", "button");
    c.setAttribute("aria-label", `${l.layer} map ${f}`);
    c.addEventListener("click", (event) => pickMap(c, ...cellAt(c, event)));
    c.addEventListener("keydown", (event) => mapKey(c, event));
    grid.appendChild(c);
  }
  return grid;
}

// A button of class `cls` whose data-* attributes are `data` (strings); a click explains `what`.
function explainButton(cls, data, what) {
  const b = element("button", cls);
  b.type = "button";
  Object.assign(b.dataset, data);
  b.addEventListener("click", () => explainThis(b, what));
  return b;
}

function unitGrid(l) {
  const grid = element("div", "units");
  l.values.forEach((_, u) => {
    const data = { kind: "dense", index: String(l.index), unit: String(u) };
    grid.appendChild(explainButton("unit", data, { kind: "dense", layer: l.index, unit: u }));
  });
  return grid;
}

function classList(l) {
  const list = element("div", "classes");
  l.probabilities.forEach((_, k) => {
    const data = { kind: "class", class: String(k) };
    const b = explainButton("class-row", data, { kind: "class", class: k });
    const bar = element("span", "bar");
    bar.appendChild(document.createElement("div"));
    b.append(element("span", "", String(k)), bar, element("span", "pct"));
    list.appendChild(b);
  });
  return list;
}

function drawNetwork(layers) {
  const box = document.getElementById("layers");
  const columns = box.querySelectorAll(".column[data-kind]");
  layers.forEach((l, n) => {
    const div = columns[n];
    if (l.kind === "conv" || l.kind === "pool") drawMaps(l, div.querySelectorAll("canvas"));
    else if (l.kind === "dense") drawUnits(l, div.querySelectorAll(".unit"));
    else drawClasses(l, div.querySelectorAll(".class-row"));
  });
}

function drawMaps(l, canvases) {
  const bytes = Uint8Array.from(atob(l.data), (ch) => ch.charCodeAt(0));
  const size = l.height * l.width;
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
}

function drawUnits(l, units) {
  const high = Math.max(...l.values, 1e-12);
  units.forEach((b, u) => {
    const v = l.values[u];
    const rgb = LUT[Math.round(255 * Math.max(0, Math.min(1, v / high)))];
    b.style.background = `rgb(${rgb.join(",")})`;
    b.title = `unit ${u}: ${v.toFixed(3)}`;
    b.setAttribute("aria-label", `${l.layer} unit ${u}, value ${v.toFixed(3)}`);
  });
}

function drawClasses(l, rows) {
  const best = l.probabilities.indexOf(Math.max(...l.probabilities));
  rows.forEach((b, k) => {
    const p = l.probabilities[k];
    b.querySelector(".bar > div").style.width = (100 * p).toFixed(1) + "%";
    b.querySelector(".pct").textContent = (100 * p).toFixed(1) + "%";
    b.classList.toggle("best", k === best);
    b.setAttribute("aria-label", `class ${k}, probability ${(100 * p).toFixed(1)}%`);
  });
}

for (const radio of document.querySelectorAll('input[name="scale"]')) {
  radio.addEventListener("change", () => { if (state.last) drawNetwork(state.last.layers); });
}

// --- how one value is computed: click a map value, a unit or a class -----------------------
function cellAt(canvas, event) {
  const rect = canvas.getBoundingClientRect();
  const col = Math.min(canvas.width - 1, Math.floor((event.clientX - rect.left) *
                                                    canvas.width / rect.width));
  const row = Math.min(canvas.height - 1, Math.floor((event.clientY - rect.top) *
                                                     canvas.height / rect.height));
  return [row, col];
}

// Keyboard: arrows move a cursor inside the focused map, Enter or Space explains that value.
const MOVES = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };

function mapKey(canvas, event) {
  const at = (canvas.dataset.cursor || `${canvas.height >> 1},${canvas.width >> 1}`)
    .split(",").map(Number);
  if (event.key in MOVES) {
    event.preventDefault();
    at[0] = Math.max(0, Math.min(canvas.height - 1, at[0] + MOVES[event.key][0]));
    at[1] = Math.max(0, Math.min(canvas.width - 1, at[1] + MOVES[event.key][1]));
    canvas.dataset.cursor = at.join(",");
    canvas.setAttribute("aria-label", `map ${canvas.dataset.channel}, row ${at[0]}, ` +
                        `column ${at[1]}: press Enter to explain`);
  } else if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    pickMap(canvas, at[0], at[1]);
  }
}

function pickMap(canvas, row, col) {
  return explainThis(canvas, { kind: canvas.dataset.kind, layer: Number(canvas.dataset.index),
                               channel: Number(canvas.dataset.channel), row, col });
}

async function explainThis(target, request) {
  const version = state.version;
  state.explaining += 1;
  try {
    const [ok, answer] = await postJSON("/api/explain", request);
    if (version !== state.version) return;  // the drawing changed meanwhile
    if (!ok) { showError(statusLine, answer); return; }
    for (const e of document.querySelectorAll("#layers .picked")) e.classList.remove("picked");
    target.classList.add("picked");
    if (answer.kind === "class") chooseLooksClass(answer.class);
    showExplanation(answer);
  } catch (error) {
    statusLine.textContent = "The server did not answer: " + error;
  } finally {
    state.explaining -= 1;
  }
}

function showError(where, answer) {
  state.errors += 1;
  where.textContent = answer.error || "error";
}

const fmt = (v) => v.toFixed(3);
const CONV_NOTE = "Each table is the filter for one input channel: in each cell the weight " +
  "(bold), the input value under it, and their product. The outlined square on \u201cwhat the " +
  "network sees\u201d is the part of your digit this value depends on (its receptive field).";

function showExplanation(a) {
  state.explained = a;
  document.getElementById("explain").hidden = false;
  document.getElementById("filters").replaceChildren();
  ({ conv: explainConv, pool: explainPool, dense: explainDense, class: explainClass })[a.kind](a);
}

function say(what, sum, note) {
  document.getElementById("explain-what").textContent = what;
  document.getElementById("sum").textContent = sum;
  document.getElementById("explain-note").textContent = note;
}

function explainConv(a) {
  const total = a.channel_sums.reduce((s, v) => s + v, 0);
  const act = a.activation ? `${a.activation}(${fmt(a.z)}) = ` : "";
  say(`${a.layer}, map ${a.channel}, row ${a.row}, column ${a.col}: ` +
      `${a.filter.length} input channel(s), so ${a.filter.length} filter(s) of ` +
      `${a.filter[0].length}\u00d7${a.filter[0][0].length}.`,
      `\u03a3 products = ${fmt(total)};  + bias ${fmt(a.bias)} = ${fmt(a.z)};  ` +
      `${act}${fmt(a.value)}, the value of this pixel of the map.`, CONV_NOTE);
  const filters = document.getElementById("filters");
  a.filter.forEach((rows, c) => {
    const table = element("table", "filter");
    table.dataset.channel = String(c);
    table.appendChild(element("caption", "", `input ${c}: sum ${fmt(a.channel_sums[c])}`));
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

function explainPool(a) {
  const [p, q] = a.winner;
  say(`${a.layer}, map ${a.channel}, row ${a.row}, column ${a.col}: the largest of a ` +
      `${a.window.length}\u00d7${a.window[0].length} window of ${a.source.layer}, map ` +
      `${a.channel}.`,
      `max = ${fmt(a.value)}, from row ${a.source.row}, column ${a.source.col} of ` +
      `${a.source.layer} (the highlighted cell).`,
      "The other values of the window pass nothing on, and in training they get no " +
      "gradient: only the winner does. The outlined square on \u201cwhat the network sees\u201d " +
      "is the part of your digit this value depends on.");
  const table = element("table", "filter");
  table.id = "explain-table";
  table.appendChild(element("caption", "", `the window in ${a.source.layer}`));
  a.window.forEach((row, r) => {
    const tr = document.createElement("tr");
    row.forEach((v, c) => {
      const td = element("td", r === p && c === q ? "won" : "", v === null ? "pad" : fmt(v));
      tr.appendChild(td);
    });
    table.appendChild(tr);
  });
  document.getElementById("filters").appendChild(table);
  outlineField(a.receptive_field);
}

function sourceText(a, t) {
  if (t.source) return `${a.from} map ${t.source[2]} at (${t.source[0]}, ${t.source[1]})`;
  return `${a.from} unit ${t.input}`;
}

function explainDense(a) {
  const act = a.activation ? `${a.activation}(${fmt(a.z)}) = ${fmt(a.value)}` : "";
  say(`${a.layer}, unit ${a.unit}: each of its ${a.inputs} inputs (from ${a.from}) times ` +
      "its own weight, all added, plus the bias.",
      `\u03a3 x\u00b7w = ${fmt(a.total)};  + bias ${fmt(a.bias)} = ${fmt(a.z)}` +
      (a.score ? `, the score of class ${a.unit} (the softmax turns the ten scores into ` +
                 "probabilities)." : `;  ${act}.`),
      `The ${a.top.length} largest contributions x\u00b7w, positive or negative, are listed; ` +
      `the other ${a.inputs - a.top.length} add up to ${fmt(a.rest)}.`);
  const table = element("table");
  table.id = "explain-table";
  const head = document.createElement("tr");
  for (const h of ["input", "from", "x", "w", "x \u00b7 w"]) head.appendChild(element("th", "", h));
  table.appendChild(head);
  for (const t of a.top) {
    const tr = document.createElement("tr");
    for (const v of [String(t.input), sourceText(a, t), fmt(t.x), fmt(t.w), fmt(t.product)]) {
      tr.appendChild(element("td", "", v));
    }
    table.appendChild(tr);
  }
  document.getElementById("filters").appendChild(table);
  outlineField(null);
}

function explainClass(a) {
  const k = a.class;
  say(`class ${k}: its probability is exp(z\u2096 \u2212 m) / \u03a3\u2c7c exp(z\u2c7c \u2212 m), ` +
      `where z are the ten class scores and m = max z = ${fmt(a.shift)}.`,
      `p${k} = exp(${fmt(a.logits[k])} \u2212 ${fmt(a.shift)}) / ${fmt(a.sum)} = ` +
      `${a.exp[k].toPrecision(4)} / ${fmt(a.sum)} = ${a.probability.toPrecision(4)}`,
      "Subtracting m changes no probability (it divides top and bottom by exp(m)) and keeps " +
      "exp from overflowing. The ten probabilities add up to 1; they rank the classes, they " +
      "do not promise the answer is right.");
  const table = element("table");
  table.id = "explain-table";
  const head = document.createElement("tr");
  for (const h of ["class", "score z", "z \u2212 m", "exp(z \u2212 m)", "probability"]) {
    head.appendChild(element("th", "", h));
  }
  table.appendChild(head);
  a.logits.forEach((z, j) => {
    const tr = element("tr", j === k ? "won" : "");
    for (const v of [String(j), fmt(z), fmt(z - a.shift), a.exp[j].toPrecision(4),
                     (a.exp[j] / a.sum).toPrecision(4)]) {
      tr.appendChild(element("td", "", v));
    }
    table.appendChild(tr);
  });
  document.getElementById("filters").appendChild(table);
  outlineField(null);
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

// --- what the network looks at: saliency and occlusion over the drawing --------------------
const looksClass = document.getElementById("looks-class");
const looksMessage = document.getElementById("looks-message");

function chooseLooksClass(k) {
  if (looksClass.value === String(k)) return;
  looksClass.value = String(k);
  state.looksVersion = -1;
  scheduleLooks();
}

looksClass.addEventListener("change", () => { state.looksVersion = -1; scheduleLooks(); });

function scheduleLooks() {
  if (drawing || state.busy || state.looking || !state.last) return;
  if (state.shown !== state.version || state.looksVersion === state.version) return;
  requestLooks();
}

async function requestLooks() {
  const version = state.version;
  const k = looksClass.value === "auto" ? state.last.prediction : Number(looksClass.value);
  state.looking = true;
  try {
    const [ok, answer] = await postJSON("/api/looks", { class: k });
    if (version !== state.version) return;
    state.looksVersion = version;
    if (!ok) { showError(looksMessage, answer); return; }
    looksMessage.textContent = "";
    state.looks = answer;
    drawLooks(answer);
  } catch (error) {
    looksMessage.textContent = "The server did not answer: " + error;
  } finally {
    state.looking = false;
    scheduleLooks();  // the drawing or the class may have changed meanwhile
  }
}

// A heat map over the grey drawing: each pixel mixes the drawing and `colour(t)` by |t|.
function drawHeat(canvas, image, heat, colour) {
  const g = canvas.getContext("2d");
  const img = g.createImageData(28, 28);
  heat.forEach((t, i) => {
    const a = Math.min(1, Math.abs(t));
    const rgb = colour(t);
    const grey = 0.6 * image[i];
    img.data.set([0, 1, 2].map((c) => Math.round((1 - a) * grey + a * rgb[c])), 4 * i);
    img.data[4 * i + 3] = 255;
  });
  g.putImageData(img, 0, 0);
}

const diverging = (t) => (t >= 0 ? [217, 72, 15] : [47, 111, 219]);

function drawLooks(a) {
  const image = state.last.image;
  const high = Math.max(...a.saliency, 1e-12);
  drawHeat(document.getElementById("saliency"), image, a.saliency.map((v) => v / high),
           (t) => LUT[Math.round(255 * t)]);
  const big = Math.max(...a.occlusion.map(Math.abs), 1e-12);
  drawHeat(document.getElementById("occlusion"), image, a.occlusion.map((v) => v / big),
           diverging);
  document.getElementById("saliency-high").textContent = high.toPrecision(3);
  document.getElementById("occlusion-low").textContent = (-big).toPrecision(3);
  document.getElementById("occlusion-high").textContent = big.toPrecision(3);
  document.getElementById("looks-what").textContent =
    `class ${a.class}, probability ${(100 * a.probability).toFixed(1)}%`;
}

function clearLooks() {
  state.looks = null;
  state.looksVersion = -1;
  for (const id of ["saliency", "occlusion"]) {
    const g = document.getElementById(id).getContext("2d");
    g.fillStyle = "#000";
    g.fillRect(0, 0, 28, 28);
  }
  for (const id of ["saliency-high", "occlusion-low", "occlusion-high", "looks-what"]) {
    document.getElementById(id).textContent = "";
  }
  looksMessage.textContent = "";
}

// --- fool it: a fast gradient sign step, then smaller ones, toward a chosen class ----------
const foolMessage = document.getElementById("fool-message");

document.getElementById("fool-go").addEventListener("click", fool);

async function fool() {
  if (!state.last) { showError(foolMessage, { error: "Draw a digit first." }); return; }
  const version = state.version;
  const before = state.last;
  state.fooling = true;
  foolMessage.textContent = "";
  try {
    const [ok, answer] = await postJSON("/api/fool", {
      target: Number(document.getElementById("fool-target").value),
      epsilon: Number(document.getElementById("fool-epsilon").value),
      steps: Number(document.getElementById("fool-steps").value),
    });
    if (version !== state.version) return;
    if (!ok) { showError(foolMessage, answer); return; }
    state.fooled = answer;
    showFooled(answer, before);
  } catch (error) {
    foolMessage.textContent = "The server did not answer: " + error;
  } finally {
    state.fooling = false;
  }
}

function showFooled(a, before) {
  drawGrey(document.getElementById("fool-before").getContext("2d"), before.image);
  drawGrey(document.getElementById("fool-after").getContext("2d"), a.image);
  const blank = new Array(784).fill(255);
  drawHeat(document.getElementById("fool-change"), blank, a.change.map((v) => v / a.epsilon),
           diverging);
  document.getElementById("change-low").textContent = `\u2212${a.epsilon}`;
  document.getElementById("change-high").textContent = `+${a.epsilon}`;
  const was = a.before.indexOf(Math.max(...a.before));
  const pct = (p) => (100 * p).toFixed(1) + "%";
  const moved = a.change.filter((v) => v !== 0).length;
  document.getElementById("fool-result").textContent =
    `It said ${was} (probability ${pct(a.before[was])}). After ${a.steps} step(s), ` +
    `${moved} of 784 pixels changed, none by more than \u03b5 = ${a.epsilon}, and it says ` +
    `${a.prediction} (probability ${pct(a.probabilities[a.prediction])}).` +
    (a.prediction === a.target ? "" : ` Not yet a ${a.target}: try a larger \u03b5 or more steps.`);
  const bars = document.getElementById("fool-bars");
  bars.replaceChildren();
  a.probabilities.forEach((p, k) => {
    const bar = element("span", "bar");
    const fill = document.createElement("div");
    fill.style.width = (100 * p).toFixed(1) + "%";
    bar.appendChild(fill);
    const row = [element("span", "", String(k)), bar, element("span", "pct", pct(p))];
    for (const e of row) e.classList.toggle("best", k === a.prediction);
    bars.append(...row);
  });
}

function clearFooled() {
  state.fooled = null;
  for (const id of ["fool-before", "fool-change", "fool-after"]) {
    const g = document.getElementById(id).getContext("2d");
    g.clearRect(0, 0, 28, 28);
  }
  document.getElementById("fool-result").textContent = "";
  document.getElementById("fool-bars").replaceChildren();
  foolMessage.textContent = "";
}

fetch("/api/model").then((r) => r.json()).then((info) => {
  document.getElementById("model-info").textContent =
    `Model: ${info.layers.join(" \u2192 ")} (${info.params.toLocaleString("en")} parameters).`;
}).catch(() => {});

clearPad();
showBlank(statusLine.textContent);
