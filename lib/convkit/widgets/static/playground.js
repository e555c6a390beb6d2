// Kernel playground: type a kernel in a grid, see the image and the filtered maps.
// Images are drawn on canvases at the screen's devicePixelRatio (one block per pixel, no blur).

function render({ model, el }) {
  const frame = ckFrame(model, el, "ck-playground");
  const kernelBox = ckNode("div", { class: "ck-panel" });
  const picture = ckNode("div", { class: "ck-body" });
  const text = ckNode("div", { class: "ck-text" });
  frame.body.append(kernelBox, picture, text);

  function drawKernel(kernel) {
    const n = kernel.length;
    const cells = kernelBox.querySelectorAll("input");
    if (cells.length === n * n) {
      // The same size: new values in place, so that the cell being typed in keeps the focus.
      cells.forEach((cell) => { cell.value = String(kernel[cell.dataset.r][cell.dataset.c]); });
      return;
    }
    const grid = ckNode("div", { class: "ck-kernel-grid", role: "group", "aria-label": "kernel" });
    grid.style.gridTemplateColumns = `repeat(${n}, auto)`;
    kernel.forEach((row, r) => row.forEach((value, c) => {
      const cell = ckNode("input", { type: "number", step: "1", value: String(value), "aria-label": `kernel row ${r}, column ${c}`, "data-r": r, "data-c": c });
      cell.addEventListener("change", () => {
        const next = model.get("settings").kernel.map((line) => line.slice());
        const typed = Number(cell.value);
        if (cell.value.trim() === "" || !Number.isFinite(typed)) return;
        next[r][c] = typed;
        ckSend(model, { kernel: next });
      });
      grid.append(cell);
    }));
    kernelBox.replaceChildren(ckNode("div", { class: "ck-panel-title" }, `kernel (${n} × ${n}): type a value or use the arrow keys`), grid);
  }

  function draw() {
    const d = ckData(model);
    if (!d || !d.input) return;
    drawKernel(d.kernel);
    const [C, H, W] = d.input.shape;
    const [D, Ho, Wo] = d.output.shape;
    const scale = Math.max(2, Math.min(6, Math.floor(260 / Math.max(H, W))));
    const x = ckFloats(d.input.values);
    const y = ckFloats(d.output.values);
    const panels = [ckMapPanel(`input (${C} × ${H} × ${W})`, C === 3 ? x : x.subarray(0, H * W), H, W, {
      map: "gray", vmin: d.input_range[0], vmax: d.input_range[1], channels: C === 3 ? 3 : 1, scale }).panel];
    for (let k = 0; k < D; k++) {
      panels.push(ckMapPanel(`output: ${d.output_names[k]} (${Ho} × ${Wo})`, y.subarray(k * Ho * Wo, (k + 1) * Ho * Wo), Ho, Wo, {
        map: "diverging", vmin: d.output_range[0], vmax: d.output_range[1], scale }).panel);
    }
    picture.replaceChildren(...panels);
    text.innerHTML = `${d.note ? `<div><b>${ckEsc(d.note)}</b></div>` : ""}<div>${ckEsc(d.description)}</div>`;
    frame.redrawn();
  }

  frame.start(draw);
  return frame.dispose;
}

export default { render };
