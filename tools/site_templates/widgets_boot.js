// Brings the course widgets of a static page to life without a kernel. Each widget was saved
// with a snapshot of its state (convkit's SNAPSHOT_MIME); the widget's own drawing code,
// loaded before this file, draws it from a stand-in for the kernel's model that holds the
// snapshot. Hover, stepping and highlighting work as in JupyterLab; the settings cannot
// change without Python, so the controls are shown but disabled.
(() => {
  function bytesOf(base64) {
    const text = atob(base64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new DataView(bytes.buffer);
  }

  function snapshotModel(shot) {
    const buffers = {};
    for (const [path, base64] of Object.entries(shot.data.buffers || {})) buffers[path] = bytesOf(base64);
    const values = {
      title: shot.title, spec: shot.spec, settings: shot.settings, error: "",
      position: shot.position || 0, data: { json: shot.data.json, buffers },
    };
    const listeners = {};
    const changed = (name) => { for (const listener of listeners[`change:${name}`] || []) listener(); };
    return {
      get: (name) => values[name],
      set: (name, value) => {
        if (name === "settings") {
          // A new setting needs Python: the controls go back to the saved settings, and the
          // widget says why, keeping its picture (its usual rule for a refused setting).
          changed("settings");
          values.error = "changing the settings needs Python: open this notebook in JupyterLab (make lab)";
          changed("error");
          changed("data"); // redrawn from the saved state: typed cells go back too
          return;
        }
        values[name] = value;
        changed(name);
      },
      save_changes() {},
      send() {},
      on(event, listener) { (listeners[event] = listeners[event] || []).push(listener); },
      off(event, listener) { listeners[event] = (listeners[event] || []).filter((l) => l !== listener); },
    };
  }

  for (const holder of document.querySelectorAll(".ck-site-widget")) {
    const render = (window.ckSiteWidgets || {})[holder.dataset.module];
    const state = holder.querySelector("script[type='application/json']");
    if (!render || !state) continue;
    const shot = JSON.parse(state.textContent);
    const el = document.createElement("div");
    render({ model: snapshotModel(shot), el });
    for (const control of el.querySelectorAll(".ck-controls input, .ck-controls select, .ck-controls button")) {
      control.disabled = true;
    }
    const note = document.createElement("div");
    note.className = "course-widget-note";
    note.textContent = "Live without a kernel: hover and step here. The settings change in JupyterLab (make lab).";
    holder.replaceChildren(note, el);
    holder.classList.add("ck-site-live");
  }
})();
