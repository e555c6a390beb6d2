// Stepper: the kernel slides over the input one output position at a time.
// Python sends the numbers of every position (products, per-channel partial sums, outputs);
// Play, step, scrub and hover only choose which position to show, here in the browser.

function render({ model, el }) {
  const frame = ckFrame(model, el, "ck-stepper");
  const bar = ckNode("div", { class: "ck-controls", role: "group", "aria-label": "position" });
  const play = ckNode("button", { type: "button", class: "ck-button", "aria-pressed": "false" }, "▶ Play");
  const back = ckNode("button", { type: "button", class: "ck-button", "aria-label": "step back" }, "◀ step");
  const next = ckNode("button", { type: "button", class: "ck-button", "aria-label": "step forward" }, "step ▶");
  const scrubId = ckId("scrub");
  const scrubBox = ckNode("div", { class: "ck-control" });
  const scrub = ckNode("input", { type: "range", id: scrubId, min: 0, max: 0, step: 1 });
  // Not live: the widget's one live region says the position, with its numbers.
  const counter = ckNode("output", { for: scrubId, class: "ck-value ck-counter", "aria-live": "off" });
  scrubBox.append(ckNode("label", { for: scrubId }, "output position"), scrub, counter);
  bar.append(play, back, next, scrubBox);
  const picture = ckNode("div", { class: "ck-panel" });
  const sum = ckNode("div", { class: "ck-dot ck-sum" });
  const live = ckLive();
  const wrap = ckNode("div", { class: "ck-panel" });
  wrap.append(bar, picture, sum, live);
  frame.body.append(wrap);

  let view = null;
  let position = model.get("position");
  let timer = null;

  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    play.textContent = "▶ Play";
    play.setAttribute("aria-pressed", "false");
  }

  function go(k, { send = true } = {}) {
    if (!view) return;
    const count = view.data.output_shape[0] * view.data.output_shape[1];
    position = Math.max(0, Math.min(count - 1, k));
    show(position);
    if (send && model.get("position") !== position) {
      model.set("position", position);
      model.save_changes();
    }
  }

  function show(k) {
    const d = view.data;
    const [, Wo] = d.output_shape;
    const a = Math.floor(k / Wo);
    const b = k % Wo;
    for (const node of view.lit) node.classList.remove("lit", "src", "done");
    view.lit = [];
    const mark = (node, cls) => { node.classList.add(cls); view.lit.push(node); };
    const rows = d.reads[0][a];
    const cols = d.reads[1][b];
    for (let c = 0; c < d.channels; c++) {
      for (const r of rows) for (const q of cols) {
        const node = view.cells.get(`in,${c},${r},${q}`);
        if (node) mark(node, "lit");
      }
      d.products[k][c].forEach((row, r) => row.forEach((value, q) => {
        view.texts.get(`p,${c},${r},${q}`).textContent = ckFmt(value);
      }));
    }
    d.output.forEach((row, r) => row.forEach((value, q) => {
      const index = r * Wo + q;
      const node = view.cells.get(`out,0,${r},${q}`);
      const text = view.texts.get(`out,0,${r},${q}`);
      if (index < k) mark(node, "done");
      if (index === k) mark(node, "src");
      if (text) text.textContent = index <= k ? ckFmt(value) : "";
    }));
    const where = d.ndim === 1 ? `${b}` : `${a}, ${b}`;
    const partials = d.partials[k];
    const value = d.output[a][b];
    const terms = d.products[k].map((grid) => grid.flat().map((v) => (v < 0 ? `(${ckFmt(v)})` : ckFmt(v))).join(" + "));
    let html;
    if (d.channels === 1) {
      html = `y[${where}] = ${ckEsc(terms[0])}${d.bias ? ` + ${ckFmt(d.bias)} (bias)` : ""} = <b>${ckFmt(value)}</b>`;
    } else {
      const lines = partials.map((p, c) => `channel ${c}: ${ckEsc(terms[c])} = <b>${ckFmt(p)}</b>`);
      const total = `${partials.map((p) => (p < 0 ? `(${ckFmt(p)})` : ckFmt(p))).join(" + ")} + ${ckFmt(d.bias)} (bias)`;
      html = `${lines.join("<br>")}<br>y[${where}] = ${ckEsc(total)} = <b>${ckFmt(value)}</b>`;
    }
    sum.innerHTML = html;
    sum.dataset.partials = JSON.stringify(partials);
    sum.dataset.bias = String(d.bias);
    sum.dataset.value = String(value);
    sum.dataset.index = JSON.stringify([a, b]);
    scrub.value = String(k);
    // Counted from 0, as the indices of y are: "y[1, 2]: position 5 of 0–8".
    const last = d.output_shape[0] * Wo - 1;
    counter.textContent = `y[${where}]: position ${k} of 0–${last}`;
    // The same in words for a screen reader, and as the picture's text alternative.
    const span = d.ndim === 1 ? `input x[${ckSpan(cols)}]` : `input rows ${ckSpan(rows)}, columns ${ckSpan(cols)}`;
    const sums = d.channels === 1 ? "" : `; channel sums ${partials.map(ckFmt).join(", ")} plus bias ${ckFmt(d.bias)}`;
    const bias = d.channels === 1 && d.bias ? ` plus bias ${ckFmt(d.bias)}` : "";
    live.textContent = `Position ${k} of 0–${last}: output y[${where}] = ${ckFmt(value)}: ${span}`
      + `${d.channels > 1 ? ` of each of the ${d.channels} channels` : ""} times the kernel${bias}${sums}.`;
    view.svg.setAttribute("aria-label", `${view.label}; ${live.textContent}`);
    frame.redrawn();
  }

  function draw() {
    const d = ckData(model);
    if (!d || !d.reads) return;
    const [H, W] = d.input_shape;
    const [Ho, Wo] = d.output_shape;
    const h = d.kernel[0].length;
    const w = d.kernel[0][0].length;
    const [ph, pw] = d.padding;
    const inRows = ckRange(-ph, H + ph);
    const inCols = ckRange(-pw, W + pw);
    const cell = Math.max(24, Math.min(34, Math.floor(700 / (inCols.length + 2 * w + Wo + 3))));
    const gap = 26;
    const rowHeight = Math.max(inRows.length, h) * cell + 34;
    const kLeft = 4 + inCols.length * cell + gap;
    const pLeft = kLeft + w * cell + gap;
    const oLeft = pLeft + w * cell + gap + 10;
    const parts = [];
    const dims = (r, c) => (d.ndim === 1 ? `${c}` : `${r}×${c}`);
    for (let c = 0; c < d.channels; c++) {
      const top = 26 + c * rowHeight;
      const tag = d.channels > 1 ? `[${c}]` : "";
      const inside = (r, q) => r >= 0 && r < H && q >= 0 && q < W;
      parts.push(ckGrid("in", inRows, inCols, top, 4, cell, {
        channel: c, value: (r, q) => (inside(r, q) ? d.x[c][r][q] : 0), classOf: (r, q) => (inside(r, q) ? "val" : "pad"),
        title: `input x${tag} (${dims(H, W)}${ph || pw ? ", padded" : ""})`,
      }));
      parts.push(ckGrid("k", ckRange(0, h), ckRange(0, w), top, kLeft, cell, { channel: c, value: (r, q) => d.kernel[c][r][q], title: `kernel u${tag}` }));
      parts.push(ckGrid("p", ckRange(0, h), ckRange(0, w), top, pLeft, cell, { channel: c, title: "products" }));
    }
    parts.push(ckGrid("out", ckRange(0, Ho), ckRange(0, Wo), 26, oLeft, cell, { channel: 0, title: `output (${dims(Ho, Wo)})` }));
    const width = Math.max(oLeft + Wo * cell + 8, oLeft + 120);
    const height = Math.max(d.channels * rowHeight, 26 + Ho * cell + 10);
    const spaced = (r, c) => dims(r, c).replace("×", " × ");
    const label = `input ${d.channels > 1 ? `${d.channels} channels of ` : ""}${spaced(H, W)}, kernel ${spaced(h, w)}, `
      + `output ${spaced(Ho, Wo)}; products and output so far`;
    picture.innerHTML = `<svg width="${width}" height="${height}" role="img" aria-label="${ckEsc(label)}">${parts.join("")}</svg>`;
    const cells = new Map();
    const texts = new Map();
    for (const rect of picture.querySelectorAll("rect[data-g]")) {
      cells.set(`${rect.dataset.g},${rect.dataset.ch},${rect.dataset.r},${rect.dataset.c}`, rect);
    }
    for (const text of picture.querySelectorAll("text[data-t]")) texts.set(text.dataset.t, text);
    view = { data: d, cells, texts, lit: [], svg: picture.querySelector("svg"), label };
    scrub.max = String(Ho * Wo - 1);
    go(model.get("position"), { send: false });
  }

  play.addEventListener("click", () => {
    if (timer !== null) {
      stop();
      return;
    }
    const count = view.data.output_shape[0] * view.data.output_shape[1];
    if (position >= count - 1) go(0);
    play.textContent = "⏸ Pause";
    play.setAttribute("aria-pressed", "true");
    timer = setInterval(() => {
      const last = view.data.output_shape[0] * view.data.output_shape[1] - 1;
      if (position >= last) stop();
      else go(position + 1);
    }, 700);
  });
  back.addEventListener("click", () => { stop(); go(position - 1); });
  next.addEventListener("click", () => { stop(); go(position + 1); });
  scrub.addEventListener("input", () => { stop(); go(Number(scrub.value)); });
  picture.addEventListener("pointerover", (event) => {
    // Hovering an output cell pauses and shows how that value is made.
    const t = event.target.dataset;
    if (!view || t.g !== "out") return;
    stop();
    go(Number(t.r) * view.data.output_shape[1] + Number(t.c));
  });

  const onPosition = () => { if (model.get("position") !== position) go(model.get("position"), { send: false }); };
  model.on("change:position", onPosition);
  frame.start(draw);
  return () => {
    stop();
    model.off("change:position", onPosition);
    frame.dispose();
  };
}

export default { render };
