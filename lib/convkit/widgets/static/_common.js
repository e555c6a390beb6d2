// convkit widgets: helpers shared by every widget, prepended to each widget's module.
// Plain ES module code, no imports: nothing is loaded from anywhere.
// Python computes every number (model "data"); this code only draws and highlights it.

// The SVG namespace, read from the parser so that no address is written in this file.
const CK_SVG_NS = (() => {
  const holder = document.createElement("div");
  holder.innerHTML = "<svg></svg>";
  return holder.firstChild.namespaceURI;
})();

// Okabe-Ito colours: distinguishable with every common colour-vision deficiency.
const CK = {
  orange: "#E69F00", sky: "#56B4E9", green: "#009E73", yellow: "#F0E442",
  blue: "#0072B2", vermillion: "#D55E00", purple: "#CC79A7", grey: "#999999", ink: "#1a1a1a",
};

// 17 stops of matplotlib's viridis (sequential) and PuOr_r (diverging, around 0).
const CK_MAPS = {
  viridis: ["#440154", "#48186a", "#472d7b", "#424086", "#3b528b", "#33638d", "#2c728e", "#26828e",
    "#21918c", "#1fa088", "#28ae80", "#3fbc73", "#5ec962", "#84d44b", "#addc30", "#d8e219", "#fde725"],
  diverging: ["#2d004b", "#451871", "#5f3a91", "#7b6aa8", "#9990bf", "#b7b1d5", "#cfcfe5", "#e4e5f0",
    "#f7f7f6", "#fce8cd", "#fed59f", "#fdbc6b", "#ee9b39", "#d97b12", "#bd6109", "#9e4c07", "#7f3b08"],
  gray: ["#000000", "#ffffff"],
};

const ckRgbCache = {};
function ckRgbTable(name) {
  // 256 interpolated [r, g, b] entries of a colour map.
  if (ckRgbCache[name]) return ckRgbCache[name];
  const stops = CK_MAPS[name].map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
  const table = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (stops.length - 1);
    const k = Math.min(Math.floor(t), stops.length - 2);
    const f = t - k;
    for (let c = 0; c < 3; c++) table[i * 3 + c] = stops[k][c] * (1 - f) + stops[k + 1][c] * f;
  }
  ckRgbCache[name] = table;
  return table;
}

function ckColor(name, t) {
  const table = ckRgbTable(name);
  const i = Math.max(0, Math.min(255, Math.round(t * 255))) * 3;
  return `rgb(${table[i]},${table[i + 1]},${table[i + 2]})`;
}

function ckEsc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// Numbers as a person writes them: integers plainly, others with 3 significant digits.
function ckFmt(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "";
  if (Number.isInteger(value)) return String(value);
  const text = Math.abs(value) >= 1e4 || Math.abs(value) < 1e-3 ? value.toExponential(2) : value.toPrecision(3);
  return text.includes("e") ? text : text.replace(/\.?0+$/, "");
}

function ckNode(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

function ckSvgNode(tag, attrs = {}) {
  const node = document.createElementNS(CK_SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

// A float32 array sent by Python as bytes (a DataView in the browser), or a plain list.
function ckFloats(value) {
  if (value instanceof ArrayBuffer) return new Float32Array(value);
  if (value instanceof DataView) return new Float32Array(value.buffer, value.byteOffset, value.byteLength / 4);
  if (ArrayBuffer.isView(value)) return new Float32Array(value.buffer, value.byteOffset, value.byteLength / 4);
  return Float32Array.from(value.flat(Infinity));
}

// A state as Python sends it: one JSON string plus binary arrays put back at their paths.
function ckUnpack(json, buffers) {
  const data = JSON.parse(json);
  for (const [path, view] of Object.entries(buffers || {})) {
    const keys = path.split(".");
    let node = data;
    for (const key of keys.slice(0, -1)) node = node[key];
    node[keys[keys.length - 1]] = view;
  }
  return data;
}

// Settings as one string, the same whatever the order of their keys (lookahead's cache key).
function ckKey(value) {
  if (Array.isArray(value)) return `[${value.map(ckKey).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${ckKey(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

// Lookahead. A control change goes to Python, and the picture waits for its answer: a round
// trip through JupyterLab and the kernel. So, when asked, Python also sends the states one
// step away on each control ("ahead" messages, computed by the same state function). A change
// that lands on one of them is drawn at once; Python's own answer for it then arrives and is
// already on screen. Anything else (a jump, a typed kernel, a preset) waits for Python.
const CK_AHEAD_KEEP = 96;
const ckLooks = new WeakMap();
function ckLook(model) {
  let look = ckLooks.get(model);
  if (look) return look;
  look = { cache: new Map(), draws: new Set(), heard: new Set(), shown: null, sent: null, asking: false, again: null };
  ckLooks.set(model, look);
  model.on("msg:custom", (msg, buffers) => {
    if (!msg || msg.kind !== "ahead" || !Array.isArray(msg.entries)) return;
    look.asking = false;
    if (look.again) {
      const again = look.again;
      look.again = null;
      ckAskAhead(model, again.first);
    }
    for (const entry of msg.entries) {
      const key = ckKey(entry.settings);
      const views = {};
      for (const [path, index] of Object.entries(entry.buffers || {})) views[path] = buffers[index];
      look.cache.delete(key);
      look.cache.set(key, { key, json: entry.json, views, data: null, settled: null });
    }
    while (look.cache.size > CK_AHEAD_KEEP) look.cache.delete(look.cache.keys().next().value);
    for (const heard of look.heard) heard();
  });
  model.on("change:data", () => {
    const shown = look.shown;
    if (shown && shown.key === look.sent) {
      // The picture already shows the last change sent: Python's answer to it (for the
      // settings it settles at) confirms it, and an older answer must not draw over it.
      const data = ckData(model, { fromModel: true });
      if (data && ckKey(data._settings) === shown.settled) look.shown = null;
      return;
    }
    look.shown = null;
    for (const draw of look.draws) draw();
  });
  return look;
}

// The state to draw: what lookahead showed last, or else the last one Python sent.
const ckParsed = new WeakMap();
function ckData(model, { fromModel = false } = {}) {
  const look = ckLook(model);
  if (look.shown && !fromModel) return look.shown.data;
  const raw = model.get("data");
  if (!raw || typeof raw.json !== "string") return null;
  if (!ckParsed.has(raw)) ckParsed.set(raw, ckUnpack(raw.json, raw.buffers));
  return ckParsed.get(raw);
}

// Ask Python for the states one step away on each control (first the one named). One request
// at a time: while one is answered, only the latest next one waits, so a held key cannot queue
// work in the kernel faster than it is done.
function ckAskAhead(model, first) {
  const look = ckLook(model);
  if (look.asking) {
    look.again = { first };
    return;
  }
  look.asking = true;
  // "fresh": this page holds no state sent ahead (first view, or a reloaded page).
  model.send({ kind: "ahead", first: first || null, fresh: look.cache.size === 0 });
}

// Indices as a sentence says them: "0 to 2" when consecutive, else listed ("0, 2, 4").
// The Python twin is picture.index_span.
function ckSpan(indices) {
  const found = [...new Set(indices)].sort((a, b) => a - b);
  if (found.length > 1 && found[found.length - 1] - found[0] === found.length - 1) return `${found[0]} to ${found[found.length - 1]}`;
  return found.join(", ");
}

// A polite live region, hidden from the eye: what a screen reader says when the picture's
// selection moves (a step of the stepper, a cell of the explorer), in words and numbers.
function ckLive() {
  return ckNode("div", { class: "ck-live", role: "status", "aria-live": "polite", "aria-atomic": "true" });
}

// Element ids unique in the page: each widget kind's module has its own copy of this file,
// so the count lives on the page (two kinds must not both make "ck-stride_h-3").
const CK_IDS = Symbol.for("convkit.widget-ids");
function ckId(prefix) {
  globalThis[CK_IDS] = (globalThis[CK_IDS] || 0) + 1;
  return `ck-${prefix}-${globalThis[CK_IDS]}`;
}

// Send one or more control values to Python (with requests for lookahead, the only messages a
// widget sends), and draw the new state at once if lookahead already has it.
function ckSend(model, values) {
  const settings = { ...model.get("settings"), ...values };
  model.set("settings", settings);
  model.save_changes();
  const names = Object.keys(values);
  ckAskAhead(model, names.length === 1 ? names[0] : null);
  const look = ckLook(model);
  look.sent = ckKey(settings);
  const hit = look.cache.get(look.sent);
  if (!hit) return;
  if (!hit.data) {
    hit.data = ckUnpack(hit.json, hit.views);
    hit.settled = ckKey(hit.data._settings);
  }
  look.shown = hit;
  for (const draw of look.draws) draw();
}

// The frame every widget has: title, controls built from the spec, error banner, body.
// Returns {root, body, banner, redrawn()}; redrawn() marks a new drawing for tests and benchmarks.
function ckFrame(model, el, extraClass) {
  // JupyterLab would take arrow keys and Home/End as notebook shortcuts: keep them for the controls.
  const root = ckNode("div", { class: `ck-widget ${extraClass || ""}`, role: "group", "data-lm-suppress-shortcuts": "true" });
  // JupyterLab's document-level shortcuts would cancel the arrow keys, Home and End of a
  // focused slider (moving between cells instead): keys pressed inside the widget stay here.
  root.addEventListener("keydown", (event) => event.stopPropagation());
  const title = ckNode("div", { class: "ck-title", id: ckId("title") }, model.get("title"));
  root.setAttribute("aria-labelledby", title.id);
  const controls = ckNode("div", { class: "ck-controls" });
  const banner = ckNode("div", { class: "ck-error", role: "alert", hidden: true });
  const body = ckNode("div", { class: "ck-body" });
  root.append(title, controls, banner, body);
  el.replaceChildren(root);

  const inputs = {};
  const build = () => {
    // A rebuild (new options, say) must not drop the keyboard focus: it goes back to the same control.
    const had = controls.contains(document.activeElement) ? document.activeElement.closest("[data-name]") : null;
    controls.replaceChildren();
    for (const key of Object.keys(inputs)) delete inputs[key];
    const settings = model.get("settings");
    let buttons = null;
    for (const spec of model.get("spec")) {
      if (spec.kind === "button") {
        if (!buttons) {
          buttons = ckNode("div", { class: "ck-presets", role: "group", "aria-label": "presets" });
          controls.append(buttons);
        }
        const button = ckNode("button", { type: "button", class: "ck-button", "data-name": spec.name }, spec.label);
        button.addEventListener("click", () => ckSend(model, spec.values));
        buttons.append(button);
        continue;
      }
      const id = ckId(spec.name);
      const box = ckNode("div", { class: "ck-control", "data-name": spec.name });
      const label = ckNode("label", { for: id }, spec.label);
      box.append(label);
      let input;
      if (spec.kind === "range") {
        input = ckNode("input", { type: "range", id, min: spec.min, max: spec.max, step: spec.step });
        // Not a live region (an <output> is one by default): the slider says its own value.
        const shown = ckNode("output", { for: id, class: "ck-value", "aria-live": "off" });
        input.addEventListener("input", () => {
          shown.textContent = input.value;
          ckSend(model, { [spec.name]: Number(input.value) });
        });
        box.append(input, shown);
        input.ckShown = shown;
      } else if (spec.kind === "number") {
        input = ckNode("input", { type: "number", id, min: spec.min, max: spec.max, step: spec.step });
        input.addEventListener("change", () => ckSend(model, { [spec.name]: Number(input.value) }));
        box.append(input);
      } else if (spec.kind === "select") {
        input = ckNode("select", { id });
        spec.options.forEach(([text], i) => input.append(ckNode("option", { value: i }, text)));
        input.addEventListener("change", () => ckSend(model, { [spec.name]: spec.options[Number(input.value)][1] }));
        box.append(input);
      }
      input.ckSpec = spec;
      input.ckLabel = label;
      // A focused control is likely to move next: ask for its neighbours before it does.
      input.addEventListener("focus", () => ckAskAhead(model, spec.name));
      inputs[spec.name] = input;
      controls.append(box);
    }
    sync(settings);
    const again = had && controls.querySelector(`[data-name="${CSS.escape(had.dataset.name)}"]`);
    if (again) (again.matches("button") ? again : again.querySelector("input, select")).focus();
  };
  const sync = (settings) => {
    for (const spec of model.get("spec")) {
      const input = inputs[spec.name];
      if (!input) continue;
      input.ckSpec = spec;
      // Labels follow the example (rows and columns in 2d, length in 1d) without a rebuild,
      // so a control that has the focus keeps it.
      if (input.ckLabel.textContent !== spec.label) input.ckLabel.textContent = spec.label;
      const box = input.parentNode;
      box.hidden = Boolean(spec.hidden);
      input.disabled = Boolean(spec.disabled);
      const value = settings[spec.name];
      if (spec.kind === "range") {
        input.min = spec.min;
        input.max = spec.max;
        if (document.activeElement !== input || Number(input.value) !== value) input.value = value;
        input.ckShown.textContent = value;
      } else if (spec.kind === "number") {
        if (document.activeElement !== input) input.value = value;
      } else if (spec.kind === "select") {
        const index = spec.options.findIndex(([, v]) => JSON.stringify(v) === JSON.stringify(value));
        input.value = String(Math.max(index, 0));
      }
    }
  };
  // The same controls, maybe with other values, ranges, labels or visibility: updated in place.
  const sameShape = (a, b) => a.length === b.length && a.every((s, i) => s.name === b[i].name && s.kind === b[i].kind
    && JSON.stringify(s.options) === JSON.stringify(b[i].options));
  let lastSpec = model.get("spec");
  build();
  const onSpec = () => {
    const spec = model.get("spec");
    if (sameShape(spec, lastSpec)) sync(model.get("settings"));
    else build();
    lastSpec = spec;
  };
  const onSettings = () => sync(model.get("settings"));
  const onError = () => {
    const message = model.get("error");
    if (message) ckLook(model).shown = null;  // Python refused: its next state draws again
    banner.hidden = !message;
    banner.textContent = message ? `No new picture: ${message}` : "";
    root.classList.toggle("ck-stale", Boolean(message));
  };
  model.on("change:spec", onSpec);
  model.on("change:settings", onSettings);
  model.on("change:error", onError);
  onError();
  // How many states lookahead holds (for tests and benchmarks, like data-drawn).
  const onAhead = () => { root.dataset.ahead = String(ckLook(model).cache.size); };
  ckLook(model).heard.add(onAhead);
  ckAskAhead(model, null);
  let drawings = 0;
  let stopDrawing = null;
  return {
    root, body, banner, inputs,
    // Draw now, and again whenever there is a new state to draw, until dispose().
    start(draw) {
      const draws = ckLook(model).draws;
      draws.add(draw);
      stopDrawing = () => draws.delete(draw);
      draw();
    },
    redrawn() {
      drawings += 1;
      root.dataset.drawn = String(drawings);
      // Where the state drawn came from: "ahead" (lookahead) or "kernel" (Python's answer).
      root.dataset.source = ckLook(model).shown ? "ahead" : "kernel";
    },
    dispose() {
      if (stopDrawing) stopDrawing();
      ckLook(model).heard.delete(onAhead);
      model.off("change:spec", onSpec);
      model.off("change:settings", onSettings);
      model.off("change:error", onError);
    },
  };
}

// Draw a rows x cols array of values on a canvas, sharp at the screen's devicePixelRatio:
// each value is one block of pixels (no smoothing), coloured by a map between vmin and vmax.
function ckPaint(canvas, values, rows, cols, { map = "viridis", vmin, vmax, scale = 4, channels = 1 } = {}) {
  const ratio = window.devicePixelRatio || 1;
  const cssW = cols * scale;
  const cssH = rows * scale;
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  canvas.width = Math.round(cssW * ratio);
  canvas.height = Math.round(cssH * ratio);
  const small = document.createElement("canvas");
  small.width = cols;
  small.height = rows;
  const ctx = small.getContext("2d");
  const image = ctx.createImageData(cols, rows);
  const table = ckRgbTable(map);
  const span = vmax - vmin || 1;
  for (let p = 0; p < rows * cols; p++) {
    if (channels === 3) {
      for (let c = 0; c < 3; c++) {
        const t = (values[c * rows * cols + p] - vmin) / span;
        image.data[p * 4 + c] = Math.round(Math.max(0, Math.min(1, t)) * 255);
      }
    } else {
      const t = Math.max(0, Math.min(1, (values[p] - vmin) / span));
      const i = Math.round(t * 255) * 3;
      image.data[p * 4] = table[i];
      image.data[p * 4 + 1] = table[i + 1];
      image.data[p * 4 + 2] = table[i + 2];
    }
    image.data[p * 4 + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  const out = canvas.getContext("2d");
  out.imageSmoothingEnabled = false;
  out.clearRect(0, 0, canvas.width, canvas.height);
  out.drawImage(small, 0, 0, canvas.width, canvas.height);
}

// A vertical colour bar as SVG: the map from vmin (bottom) to vmax (top), with three ticks.
function ckColorbar(map, vmin, vmax, height, label) {
  const id = ckId("bar");
  // Offsets must increase down the bar: the top (offset 0) is vmax, the last colour of the map.
  const stops = CK_MAPS[map].slice().reverse().map((c, i, all) => `<stop offset="${(i / (all.length - 1)).toFixed(3)}" stop-color="${c}"/>`).join("");
  const ticks = [vmax, (vmin + vmax) / 2, vmin].map((v, i) => {
    const y = 8 + (i * (height - 16)) / 2;
    return `<line x1="26" x2="30" y1="${y}" y2="${y}" stroke="#333"/><text x="33" y="${y + 4}" class="ck-small">${ckEsc(ckFmt(v))}</text>`;
  }).join("");
  return `<svg class="ck-colorbar" width="84" height="${height}" role="img" aria-label="${ckEsc(label)}: colour scale from ${ckEsc(ckFmt(vmin))} to ${ckEsc(ckFmt(vmax))}">
    <defs><linearGradient id="${id}" x1="0" x2="0" y1="0" y2="1">${stops}</linearGradient></defs>
    <rect x="12" y="8" width="14" height="${height - 16}" fill="url(#${id})" stroke="#333"/>${ticks}</svg>`;
}

// A grid of cells as SVG text: the one drawing of a footprint's grid, for every widget.
// rows and cols are the indices drawn (padding indices included), the first at (left, top).
// Each cell is a <rect data-g=name data-r data-c> (and data-ch with a channel) whose class
// classOf(r, c) gives, with a <title> "label[r, c] = value" when a label is given, and its
// number as <text data-t="name,channel,r,c">, filled in later when value(r, c) is null.
function ckGrid(name, rows, cols, top, left, cell, { value = () => null, classOf = () => "val", label, channel, title, numbers = true } = {}) {
  const parts = [`<g class="ck-grid" data-grid="${name}">`];
  const ch = channel === undefined ? "" : ` data-ch="${channel}"`;
  rows.forEach((row, r) => cols.forEach((col, c) => {
    const x = left + c * cell;
    const y = top + r * cell;
    const v = value(row, col);
    const tip = label ? `<title>${ckEsc(label)}[${row}, ${col}] = ${ckFmt(v)}</title>` : "";
    parts.push(`<rect data-g="${name}"${ch} data-r="${row}" data-c="${col}" class="${classOf(row, col)}" x="${x}" y="${y}" width="${cell}" height="${cell}">${tip}</rect>`);
    if (numbers) parts.push(`<text data-t="${name},${channel ?? 0},${row},${col}" x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle">${v === null ? "" : ckFmt(v)}</text>`);
  }));
  if (title) parts.push(`<text x="${left}" y="${top - 8}" class="ck-panel-title">${ckEsc(title)}</text>`);
  parts.push("</g>");
  return parts.join("");
}

// The indices from .. to - 1, as the rows or columns of a grid.
function ckRange(from, to) {
  return Array.from({ length: Math.max(to - from, 0) }, (_, i) => from + i);
}

// A titled panel holding one map painted on a canvas (ckPaint), its colour bar (none for an
// RGB picture, channels = 3) and the marks drawn over it: {kind: "box", top, left, height,
// width} or {kind: "peak", row, col}, each with a name and a colour. Returns {panel, canvas}.
function ckMapPanel(title, values, rows, cols, { map, vmin, vmax, scale, channels = 1, label, marks = [] }) {
  const panel = ckNode("figure", { class: "ck-panel", style: "margin:0" });
  const caption = ckNode("figcaption", { class: "ck-panel-title" }, title);
  const row = ckNode("div", { style: "display:flex; align-items:flex-start; gap:4px" });
  const canvas = ckNode("canvas", { class: "ck-image", role: "img", "aria-label": label || `${title}: ${rows} × ${cols} pixels${channels === 3 ? " in colour" : ""}, values ${ckFmt(vmin)} to ${ckFmt(vmax)}` });
  ckPaint(canvas, values, rows, cols, { map, vmin, vmax, channels, scale });
  if (marks.length) {
    const overlay = marks.map((m) => (m.kind === "box"
      ? `<rect class="ck-mark-${m.name}" x="${m.left * scale + 1}" y="${m.top * scale + 1}" width="${m.width * scale}" height="${m.height * scale}" fill="none" stroke="${m.color}" stroke-width="2.5"/>`
      : `<circle class="ck-mark-${m.name}" cx="${(m.col + 0.5) * scale + 1}" cy="${(m.row + 0.5) * scale + 1}" r="${Math.max(6, scale * 1.5)}" fill="none" stroke="${m.color}" stroke-width="2.5"/>`
        + `<circle cx="${(m.col + 0.5) * scale + 1}" cy="${(m.row + 0.5) * scale + 1}" r="2" fill="${m.color}"/>`)).join("");
    const holder = ckNode("div", { class: "ck-figure" });
    holder.append(canvas);
    holder.insertAdjacentHTML("beforeend", `<svg class="ck-overlay" width="${cols * scale + 2}" height="${rows * scale + 2}" aria-hidden="true">${overlay}</svg>`);
    row.append(holder);
  } else {
    row.append(canvas);
  }
  if (channels !== 3) row.insertAdjacentHTML("beforeend", ckColorbar(map, vmin, vmax, rows * scale, title));
  panel.append(caption, row);
  return { panel, canvas };
}
