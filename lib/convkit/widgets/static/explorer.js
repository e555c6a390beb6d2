// Convolution explorer: input, weight and output grids linked by hover.
// Every number and every footprint comes from Python (model "data"): "reads" gives, per axis and
// per output index, the (input index, tap) pairs that output sums over.

function ckExplorerIndex(data) {
  // For each axis, input index -> [(output index, tap)] (the inverse of reads).
  return data.reads.map((perOutput) => {
    const inverse = new Map();
    perOutput.forEach((pairs, o) => pairs.forEach(([i, j]) => {
      if (!inverse.has(i)) inverse.set(i, []);
      inverse.get(i).push([o, j]);
    }));
    return inverse;
  });
}

function render({ model, el }) {
  const frame = ckFrame(model, el, "ck-explorer");
  const picture = ckNode("div", {
    class: "ck-panel ck-focusable", tabindex: "0", role: "application",
    "aria-label": "Output cells: arrow keys, Home and End choose an output cell and light the input window it reads; Escape clears",
  });
  const legend = ckNode("div", { class: "ck-legend" });
  legend.innerHTML = [["#56B4E9", "cells the hovered cell is linked to"], ["#E69F00", "hovered cell"],
    ["#eeeeee", "padding (zeros)"], ["#fbe3d2", "never read"]]
    .map(([color, text]) => `<span><span class="ck-swatch" style="background:${color}"></span>${text}</span>`).join("");
  const dot = ckNode("div", { class: "ck-dot" });
  const live = ckLive();
  const channels = ckNode("div", { class: "ck-panel" });
  const info = ckNode("div", { class: "ck-panel ck-text" });
  const left = ckNode("div", { class: "ck-panel" });
  left.append(picture, legend, dot, live);
  frame.body.append(left, info, channels);

  let view = null; // what the current drawing holds: data, inverse maps, cells by key
  let pinned = null; // output cell chosen with the keyboard: [row, col]
  let hovered = null; // output cell last under the pointer, where the arrow keys start from
  let lit = [];

  function clear() {
    for (const node of lit) node.classList.remove("lit", "src");
    lit = [];
  }
  function light(node, cls) {
    if (!node) return;
    node.classList.add(cls);
    lit.push(node);
  }
  const key = (r, c) => `${r},${c}`;
  const dims = (d, rows, cols) => (d.ndim === 1 ? `${cols}` : `${rows} × ${cols}`);

  // The picture's text alternative: the layer in numbers, and the output cell selected.
  function describe(selected) {
    const d = view.data;
    const axes = (v) => (d.ndim === 1 ? `${v[1]}` : `(${v[0]}, ${v[1]})`);
    const names = ["padding", "stride", "dilation", ...(d.transposed ? ["output_padding"] : [])];
    const label = `${d.transposed ? "transposed convolution" : "convolution"}, ${d.summary}; kernel ${dims(d, ...d.kernel_size)}, `
      + `${names.map((n) => `${n.replace("_", " ")} ${axes(d[n])}`).join(", ")}`;
    view.svg.setAttribute("aria-label", selected ? `${label}; selected: ${selected}` : label);
  }

  // An output cell in words: its value, and the input window and kernel it comes from.
  function outputSentence(a, b) {
    const d = view.data;
    const rows = d.reads[0][a].map(([i]) => i);
    const cols = d.reads[1][b].map(([k]) => k);
    const where = d.ndim === 1 ? `y[${b}]` : `y[${a}, ${b}]`;
    const inputs = d.ndim === 1 ? `input x[${ckSpan(cols)}]` : `input rows ${ckSpan(rows)}, columns ${ckSpan(cols)}`;
    const outside = (i, n) => i < 0 || i >= n;
    const padded = rows.length * cols.length - rows.filter((i) => !outside(i, d.input_shape[0])).length
      * cols.filter((k) => !outside(k, d.input_shape[1])).length;
    const value = `output ${where} = ${ckFmt(d.output[a][b])}`;
    if (d.transposed) {
      const count = rows.length * cols.length;
      return `${value}: the sum of ${count} input value${count === 1 ? "" : "s"} at ${inputs}, each times one kernel tap.`;
    }
    const kernel = d.ndim === 1 ? `kernel of ${d.kernel_size[1]}` : `${dims(d, ...d.kernel_size)} kernel`;
    return `${value}: ${inputs} times the ${kernel}`
      + `${padded ? `; ${padded} of its ${rows.length * cols.length} values are padding zeros` : ""}.`;
  }

  function hoverOutput(a, b) {
    const d = view.data;
    clear();
    light(view.cells.out.get(key(a, b)), "src");
    const terms = [];
    for (const [i, j] of d.reads[0][a]) {
      for (const [k, l] of d.reads[1][b]) {
        light(view.cells.in.get(key(i, k)), "lit");
        light(view.cells.w.get(key(j, l)), "lit");
        const inside = i >= 0 && i < d.input_shape[0] && k >= 0 && k < d.input_shape[1];
        terms.push([inside ? d.x[i][k] : 0, d.weight[j][l], inside]);
      }
    }
    const where = d.ndim === 1 ? `${b}` : `${a}, ${b}`;
    const written = terms.map(([x, w, inside]) => `${inside ? ckFmt(x) : "0ᵖ"}·${w < 0 ? `(${ckFmt(w)})` : ckFmt(w)}`);
    dot.innerHTML = `<span class="ck-dot-lhs">y[${where}]</span> = ${ckEsc(written.join(" + ") || "0")} = <b class="ck-dot-value">${ckFmt(d.output[a][b])}</b>`
      + `<br><span class="ck-small">values × weights = sum${terms.some((t) => !t[2]) ? "; 0ᵖ is a padding zero" : ""}${d.transposed ? "; in a transposed convolution each input is multiplied by a tap and added into this output" : ""}</span>`;
    dot.dataset.terms = JSON.stringify(terms.map(([x, w]) => [x, w]));
    dot.dataset.value = String(d.output[a][b]);
    live.textContent = outputSentence(a, b);
    describe(live.textContent);
  }

  function hoverInput(i, k) {
    const d = view.data;
    clear();
    light(view.cells.in.get(key(i, k)), "src");
    const rows = view.inverse[0].get(i) || [];
    const cols = view.inverse[1].get(k) || [];
    for (const [a, j] of rows) {
      for (const [b, l] of cols) {
        light(view.cells.out.get(key(a, b)), "lit");
        light(view.cells.w.get(key(j, l)), "lit");
      }
    }
    const inside = i >= 0 && i < d.input_shape[0] && k >= 0 && k < d.input_shape[1];
    const count = rows.length * cols.length;
    dot.textContent = `x[${d.ndim === 1 ? k : `${i}, ${k}`}]${inside ? ` = ${ckFmt(d.x[i][k])}` : " is padding (0)"}: `
      + `${count === 0 ? "no output reads it" : `read by ${count} output cell${count > 1 ? "s" : ""}`}.`;
    live.textContent = `input ${dot.textContent}`;
    describe(live.textContent);
  }

  function hoverWeight(j, l) {
    const d = view.data;
    clear();
    light(view.cells.w.get(key(j, l)), "src");
    let count = 0;
    d.reads[0].forEach((rowPairs) => rowPairs.forEach(([i, jj]) => {
      if (jj !== j) return;
      d.reads[1].forEach((colPairs) => colPairs.forEach(([k, ll]) => {
        if (ll !== l) return;
        light(view.cells.in.get(key(i, k)), "lit");
        count += 1;
      }));
    }));
    dot.textContent = `weight[${d.ndim === 1 ? l : `${j}, ${l}`}] = ${ckFmt(d.weight[j][l])} multiplies ${count} input value${count === 1 ? "" : "s"}, one per output cell.`;
    live.textContent = dot.textContent;
    describe(live.textContent);
  }

  function restore() {
    clear();
    if (pinned && view && pinned[0] < view.data.output_shape[0] && pinned[1] < view.data.output_shape[1]) {
      hoverOutput(pinned[0], pinned[1]);
    } else {
      pinned = null;
      dot.innerHTML = "<span class='ck-small'>Hover over (or focus and use the arrow keys on) a cell: the output shows its dot product.</span>";
      delete dot.dataset.terms;
      delete dot.dataset.value;
      live.textContent = "";
      if (view) describe(null);
    }
  }

  function draw() {
    const d = ckData(model);
    if (!d || !d.reads) return;
    const [H, W] = d.input_shape;
    const [Ho, Wo] = d.output_shape;
    const [h, w] = d.kernel_size;
    const pad = d.transposed ? [0, 0] : d.padding;
    const inCols = W + 2 * pad[1];
    const inRows = H + 2 * pad[0];
    const cell = Math.max(12, Math.min(34, Math.floor(760 / (inCols + w + Wo + 4))));
    const gap = Math.max(28, cell * 1.5);
    const top = 34;
    const numbers = cell >= 22;  // smaller cells have no room for a number: hover shows it
    const unreadRows = new Set(d.unread[0]);
    const unreadCols = new Set(d.unread[1]);
    const xLeft = 4;
    const wLeft = xLeft + inCols * cell + gap;
    const oLeft = wLeft + w * cell + gap;
    const height = top + Math.max(inRows, h, Ho) * cell + 8;
    const inLabel = d.transposed ? `input x of the transposed layer (${dims(d, H, W)})` : `input x (${dims(d, H, W)}${pad[0] || pad[1] ? ", padded" : ""})`;
    const outLabel = d.transposed ? `output y = conv_transpose(x) (${dims(d, Ho, Wo)})` : `output y (${dims(d, Ho, Wo)})`;
    // Wide enough for the output's title too (about 8 px a character at 13 px), not only its cells.
    const width = Math.max(oLeft + Wo * cell + 8, oLeft + 8 * outLabel.length);
    const svg = [`<svg width="${width}" height="${height}" role="img" aria-label="${ckEsc(d.summary)}">`,
      `<text x="${xLeft}" y="16" class="ck-panel-title">${ckEsc(inLabel)}</text>`,
      `<text x="${wLeft}" y="16" class="ck-panel-title">weight (${dims(d, h, w)})</text>`,
      `<text x="${oLeft}" y="${top - 14}" class="ck-panel-title">${ckEsc(outLabel)}</text>`,
      ckGrid("in", ckRange(-pad[0], H + pad[0]), ckRange(-pad[1], W + pad[1]), top, xLeft, cell, {
        value: (r, c) => (r >= 0 && r < H && c >= 0 && c < W ? d.x[r][c] : 0), label: "x", numbers,
        classOf: (r, c) => (r < 0 || r >= H || c < 0 || c >= W ? "pad" : unreadRows.has(r) || unreadCols.has(c) ? "val unread" : "val"),
      }),
      ckGrid("w", ckRange(0, h), ckRange(0, w), top, wLeft, cell, { value: (r, c) => d.weight[r][c], label: "weight", numbers }),
      ckGrid("out", ckRange(0, Ho), ckRange(0, Wo), top, oLeft, cell, { value: (r, c) => d.output[r][c], label: "y", numbers }),
      "</svg>"];
    picture.innerHTML = svg.join("");
    const cells = { in: new Map(), w: new Map(), out: new Map() };
    for (const rect of picture.querySelectorAll("rect[data-g]")) {
      cells[rect.dataset.g].set(key(rect.dataset.r, rect.dataset.c), rect);
    }
    view = { data: d, cells, inverse: ckExplorerIndex(d), svg: picture.querySelector("svg") };
    lit = [];

    const calls = d.calls.map((t) => `<div class="ck-mono">${ckEsc(t)}</div>`).join("");
    const formulas = d.formulas.map((t) => `<div class="ck-mono ck-formula">${ckEsc(t)}</div>`).join("");
    const ws = d.weight_shape.join("×");
    info.innerHTML = `<div class="ck-summary"><b>${ckEsc(d.summary)}</b></div>
      <div class="ck-panel-title">Output size, per axis</div>${formulas}
      <div class="ck-panel-title">The same layer in PyTorch</div>${calls}
      <div>Receptive field of one output cell: <b>${d.ndim === 1 ? d.effective_kernel[1] : d.effective_kernel.join(" × ")}</b> input cells (1 + (k − 1)·d per axis).</div>
      <div>${ckEsc(d.unread_message)}</div>
      <div>Parameters: weight ${ws} plus ${d.out_channels} bias${d.out_channels > 1 ? "es" : ""} = <b>${d.parameter_count.toLocaleString("en")}</b>, whatever the input size. The grids show one input and one output channel.</div>`;
    drawChannels(d);
    restore();
    frame.redrawn();
  }

  function drawChannels(d) {
    const C = d.in_channels;
    const D = d.out_channels;
    if (C === 1 && D === 1) {
      channels.replaceChildren();
      return;
    }
    const step = 18;
    const height = Math.max(C, D) * step + 40;
    const per = C / d.groups;
    const reads = `${C} input channel${C === 1 ? "" : "s"}, ${D} output channel${D === 1 ? "" : "s"}, groups ${d.groups}: each output channel reads ${per} input channel${per === 1 ? "" : "s"}`;
    const parts = [`<svg width="260" height="${height}" role="img" aria-label="${ckEsc(reads)}">`,
      `<text x="4" y="14" class="ck-small">in channels</text><text x="170" y="14" class="ck-small">out channels</text>`];
    const yIn = (c) => 28 + c * step + ((Math.max(C, D) - C) * step) / 2;
    const yOut = (o) => 28 + o * step + ((Math.max(C, D) - D) * step) / 2;
    d.channel_links.forEach((inputs, o) => inputs.forEach((c) => parts.push(
      `<line data-o="${o}" data-c="${c}" x1="40" y1="${yIn(c) + 6}" x2="170" y2="${yOut(o) + 6}" stroke="#999" stroke-width="1.2"/>`)));
    for (let c = 0; c < C; c++) parts.push(`<rect data-ch="in" data-c="${c}" x="24" y="${yIn(c)}" width="14" height="12" fill="#56B4E9" stroke="#333"/><text x="4" y="${yIn(c) + 11}" class="ck-small">${c}</text>`);
    for (let o = 0; o < D; o++) parts.push(`<rect data-ch="out" data-o="${o}" x="172" y="${yOut(o)}" width="14" height="12" fill="#E69F00" stroke="#333"/><text x="192" y="${yOut(o) + 11}" class="ck-small">${o}</text>`);
    parts.push("</svg>");
    const kind = d.groups === 1 ? "ordinary: every output channel reads every input channel"
      : d.groups === C ? `depthwise: each output channel reads one input channel (groups = C = ${C})`
        : `grouped: ${d.groups} groups, each output channel reads ${per} of the ${C} input channels`;
    channels.innerHTML = `<div class="ck-panel-title">Channels, groups = ${d.groups}</div><div class="ck-small">${ckEsc(kind)}</div>${parts.join("")}`;
    const lines = channels.querySelectorAll("line");
    channels.querySelector("svg").addEventListener("pointerover", (event) => {
      const o = event.target.dataset.o;
      if (o === undefined) return;
      lines.forEach((line) => {
        const on = line.dataset.o === o;
        line.setAttribute("stroke", on ? "#D55E00" : "#999");
        line.setAttribute("stroke-width", on ? "2.5" : "1.2");
      });
    });
  }

  picture.addEventListener("pointerover", (event) => {
    const target = event.target;
    if (!view || !target.dataset || !target.dataset.g) return;
    const r = Number(target.dataset.r);
    const c = Number(target.dataset.c);
    if (target.dataset.g === "out") {
      hovered = [r, c];
      hoverOutput(r, c);
    }
    else if (target.dataset.g === "in") hoverInput(r, c);
    else hoverWeight(r, c);
  });
  picture.addEventListener("pointerleave", restore);
  picture.addEventListener("focus", () => {
    if (!pinned) pinned = [0, 0];
    restore();
  });
  picture.addEventListener("keydown", (event) => {
    if (!view) return;
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (event.key === "Escape") {
      pinned = null;
      restore();
      return;
    }
    const [Ho, Wo] = view.data.output_shape;
    // The arrows move on from the cell last hovered, if the pointer moved since the last key.
    const [a, b] = hovered || pinned || [0, 0];
    const move = moves[event.key];
    if (move) pinned = [Math.max(0, Math.min(Ho - 1, a + move[0])), Math.max(0, Math.min(Wo - 1, b + move[1]))];
    else if (event.key === "Home") pinned = [0, 0];
    else if (event.key === "End") pinned = [Ho - 1, Wo - 1];
    else return;
    event.preventDefault();
    hovered = null;
    restore();
  });

  frame.start(draw);
  return frame.dispose;
}

export default { render };
