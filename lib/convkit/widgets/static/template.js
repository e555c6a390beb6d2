// Template matcher: the image with its patch, the plain correlation and the NCC map, peaks marked.
// The maps come from Python; this code paints them (sharp at devicePixelRatio) and marks them.

function render({ model, el }) {
  const frame = ckFrame(model, el, "ck-template");
  const picture = ckNode("div", { class: "ck-body" });
  const legend = ckNode("div", { class: "ck-legend" });
  legend.innerHTML = `<span><span class="ck-swatch" style="border:2px solid ${CK.orange}"></span>the patch (the kernel); click the image, or use the patch sliders, to move it</span>`
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
    const image = ckMapPanel(`image (${H} × ${W})`, ckFloats(d.image.values), H, W, {
      map: "gray", scale, vmin: d.image_range[0], vmax: d.image_range[1], label: `image (${H} × ${W} pixels) with the ${height} × ${width} patch at row ${top}, column ${left}`,
      marks: [{ kind: "box", name: "patch", top, left, height, width, color: CK.orange }] });
    const plain = ckMapPanel(`plain correlation (${Ho} × ${Wo})`, ckFloats(d.plain.values), Ho, Wo, {
      map: "viridis", scale, vmin: d.plain_range[0], vmax: d.plain_range[1], label: `plain correlation (${Ho} × ${Wo}), peak at row ${d.plain_peak[0]}, column ${d.plain_peak[1]}`,
      marks: [{ kind: "peak", name: "peak", row: d.plain_peak[0], col: d.plain_peak[1], color: CK.vermillion }] });
    const ncc = ckMapPanel(`normalised cross-correlation (${Ho} × ${Wo})`, ckFloats(d.ncc.values), Ho, Wo, {
      map: "viridis", scale, vmin: -1, vmax: 1, label: `normalised cross-correlation (${Ho} × ${Wo}), peak ${ckFmt(d.ncc_peak_value)} at row ${d.ncc_peak[0]}, column ${d.ncc_peak[1]}`,
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
