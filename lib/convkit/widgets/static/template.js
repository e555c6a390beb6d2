// Template matcher: the image with its patch, the plain correlation and the NCC map, peaks marked.
// The maps come from Python; this code paints them (sharp at devicePixelRatio) and marks them.

function ckMarkedMap(title, values, rows, cols, scale, { map, vmin, vmax, marks, label }) {
  const panel = ckNode("figure", { class: "ck-panel", style: "margin:0" });
  const caption = ckNode("figcaption", { class: "ck-panel-title" }, title);
  const row = ckNode("div", { style: "display:flex; align-items:flex-start; gap:4px" });
  const holder = ckNode("div", { class: "ck-figure" });
  const canvas = ckNode("canvas", { class: "ck-image", role: "img", "aria-label": label });
  ckPaint(canvas, values, rows, cols, { map, vmin, vmax, scale });
  const overlay = marks.map((m) => (m.kind === "box"
    ? `<rect class="ck-mark-${m.name}" x="${m.left * scale + 1}" y="${m.top * scale + 1}" width="${m.width * scale}" height="${m.height * scale}" fill="none" stroke="${m.color}" stroke-width="2.5"/>`
    : `<circle class="ck-mark-${m.name}" cx="${(m.col + 0.5) * scale + 1}" cy="${(m.row + 0.5) * scale + 1}" r="${Math.max(6, scale * 1.5)}" fill="none" stroke="${m.color}" stroke-width="2.5"/>`
      + `<circle cx="${(m.col + 0.5) * scale + 1}" cy="${(m.row + 0.5) * scale + 1}" r="2" fill="${m.color}"/>`)).join("");
  holder.append(canvas);
  holder.insertAdjacentHTML("beforeend", `<svg class="ck-overlay" width="${cols * scale + 2}" height="${rows * scale + 2}" aria-hidden="true">${overlay}</svg>`);
  row.append(holder);
  row.insertAdjacentHTML("beforeend", ckColorbar(map, vmin, vmax, rows * scale, title));
  panel.append(caption, row);
  return { panel, canvas };
}

function render({ model, el }) {
  const frame = ckFrame(model, el, "ck-template");
  const picture = ckNode("div", { class: "ck-body" });
  const legend = ckNode("div", { class: "ck-legend" });
  legend.innerHTML = `<span><span class="ck-swatch" style="border:2px solid ${CK.orange}"></span>the patch (the kernel); click the image to move it</span>`
    + `<span><span class="ck-swatch" style="border:2px solid ${CK.vermillion}; border-radius:50%"></span>peak of each map</span>`;
  const text = ckNode("div", { class: "ck-text" });
  frame.body.append(picture, legend, text);

  function draw() {
    const d = ckData(model);
    if (!d || !d.image) return;
    const [H, W] = d.image.shape;
    const [Ho, Wo] = d.plain.shape;
    const scale = Math.max(2, Math.min(5, Math.floor(300 / Math.max(H, W))));
    const [top, left, height, width] = d.patch;
    const image = ckMarkedMap(`image (${H} × ${W})`, ckFloats(d.image.values), H, W, scale, {
      map: "gray", vmin: d.image_range[0], vmax: d.image_range[1], label: `image with the patch at row ${top}, column ${left}`,
      marks: [{ kind: "box", name: "patch", top, left, height, width, color: CK.orange }] });
    const plain = ckMarkedMap(`plain correlation (${Ho} × ${Wo})`, ckFloats(d.plain.values), Ho, Wo, scale, {
      map: "viridis", vmin: d.plain_range[0], vmax: d.plain_range[1], label: `plain correlation, peak at row ${d.plain_peak[0]}, column ${d.plain_peak[1]}`,
      marks: [{ kind: "peak", name: "peak", row: d.plain_peak[0], col: d.plain_peak[1], color: CK.vermillion }] });
    const ncc = ckMarkedMap(`normalised cross-correlation (${Ho} × ${Wo})`, ckFloats(d.ncc.values), Ho, Wo, scale, {
      map: "viridis", vmin: -1, vmax: 1, label: `NCC, peak ${ckFmt(d.ncc_peak_value)} at row ${d.ncc_peak[0]}, column ${d.ncc_peak[1]}`,
      marks: [{ kind: "peak", name: "peak", row: d.ncc_peak[0], col: d.ncc_peak[1], color: CK.vermillion }] });
    ncc.panel.dataset.peak = JSON.stringify(d.ncc_peak);
    image.canvas.style.cursor = "crosshair";
    image.canvas.addEventListener("click", (event) => {
      // Move the patch so that its top-left corner is the clicked pixel (kept inside the image).
      const box = image.canvas.getBoundingClientRect();
      const row = Math.floor(((event.clientY - box.top) / box.height) * H);
      const col = Math.floor(((event.clientX - box.left) / box.width) * W);
      ckSend(model, { top: Math.max(0, Math.min(H - height, row)), left: Math.max(0, Math.min(W - width, col)) });
    });
    picture.replaceChildren(image.panel, plain.panel, ncc.panel);
    text.textContent = d.description;
    frame.redrawn();
  }

  frame.start(draw);
  return frame.dispose;
}

export default { render };
