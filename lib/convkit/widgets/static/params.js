// Parameter counter: dense layer against convolution, as an SVG bar chart on a log scale.
// Every count comes from Python; this code only places the bars and writes the numbers.

function render({ model, el }) {
  const frame = ckFrame(model, el, "ck-params");
  const chart = ckNode("div", { class: "ck-panel" });
  const text = ckNode("div", { class: "ck-text" });
  frame.body.append(chart, text);

  function draw() {
    const d = ckData(model);
    if (!d || !d.dense_count) return;
    const width = 640;
    const left = 230;
    const right = width - 20;
    const top = 10;
    const bar = 34;
    const decades = Math.max(1, Math.ceil(Math.log10(d.dense_count)));
    const x = (v) => left + ((right - left) * Math.log10(Math.max(v, 1))) / decades;
    const rows = [
      ["dense", `nn.Linear(${d.in_features.toLocaleString("en")}, ${d.out_features.toLocaleString("en")})`, d.dense_count, d.dense_bytes_text, CK.vermillion],
      ["conv", `nn.Conv2d(${d.channels}, ${d.out_channels}, ${d.kernel_size})`, d.conv_count, d.conv_bytes_text, CK.blue],
    ];
    const label = rows.map(([, call, count, bytes]) => `${call} has ${count.toLocaleString("en")} parameters (${bytes})`).join("; ");
    const parts = [`<svg width="${width}" height="${top + 2 * (bar + 26) + 40}" role="img" aria-label="${ckEsc(`Parameters on a log scale: ${label}; ratio ${d.ratio_text}`)}">`];
    for (let k = 0; k <= decades; k++) {
      const px = left + ((right - left) * k) / decades;
      parts.push(`<line x1="${px}" x2="${px}" y1="${top}" y2="${top + 2 * (bar + 26)}" stroke="#ddd"/>`);
      if (decades <= 12 || k % 2 === 0) parts.push(`<text x="${px}" y="${top + 2 * (bar + 26) + 16}" text-anchor="middle" class="ck-small">10${k === 0 ? "⁰" : String(k).split("").map((c) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[Number(c)]).join("")}</text>`);
    }
    rows.forEach(([name, call, count, bytes, color], i) => {
      const y = top + i * (bar + 26);
      parts.push(`<text x="4" y="${y + 14}" class="ck-small" font-weight="600">${ckEsc(call)}</text>`);
      parts.push(`<text x="4" y="${y + 31}" class="ck-small">${ckEsc(`${count.toLocaleString("en")} parameters`)}</text>`);
      parts.push(`<rect data-bar="${name}" x="${left}" y="${y}" width="${Math.max(2, x(count) - left)}" height="${bar}" fill="${color}"><title>${count.toLocaleString("en")} parameters, ${ckEsc(bytes)}</title></rect>`);
      parts.push(`<text x="${Math.min(x(count) + 6, right - 120)}" y="${y + bar / 2 + 5}" class="ck-small" fill="${x(count) + 6 > right - 120 ? "#fff" : "#1a1a1a"}">${ckEsc(bytes)}</text>`);
    });
    parts.push(`<text x="${left}" y="${top + 2 * (bar + 26) + 34}" class="ck-small">parameters (log scale)</text></svg>`);
    chart.innerHTML = parts.join("");
    text.innerHTML = `Image ${d.channels}×${d.image_size}×${d.image_size} → ${d.out_channels}×${d.image_size}×${d.image_size}. `
      + `The dense layer needs <b>${ckEsc(d.ratio_text)}</b> times as many parameters as the convolution, whose count does not depend on the image size.`;
    frame.redrawn();
  }

  frame.start(draw);
  return frame.dispose;
}

export default { render };
