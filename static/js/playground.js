// The animation loop and the drawing: everything else (controls, layout, text) is HTML from the
// server. While playing, the next frame is requested only after the last one is drawn, so a slow
// server slows the animation down instead of piling requests up.
(() => {
  "use strict";

  const EPOCHS_PER_FRAME = 2;
  let state = null; // the page's state: session id, first frame, data points, messages
  let playing = false;
  let busy = false;
  let curve = { epochs: [], train: [], test: [] };
  let weights = [];
  let biases = [];
  let lastFrame = null;
  let pendingFlag = ""; // a message to show once the next playground is drawn

  const $ = (id) => document.getElementById(id);

  function message(key, params = {}) {
    let text = state.messages[key] || key;
    for (const [name, value] of Object.entries(params)) text = text.replace(`{${name}}`, value);
    return text;
  }

  // ---- talking to the server ---------------------------------------------------------------

  class Expired extends Error {}

  async function api(method, path, body) {
    const response = await fetch(`/api/sessions/${state.sid}${path}`, {
      method,
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 404) throw new Expired();
    const payload = await response.json();
    if (!response.ok) {
      const detail = Array.isArray(payload.detail) ? payload.detail.map((d) => d.message).join("; ") : payload.detail;
      throw new Error(detail || response.statusText);
    }
    return payload;
  }

  function recover() {
    // The session is gone (idle timeout or a server restart): rebuild it from the URL.
    setPlaying(false);
    pendingFlag = message("expired");
    htmx.ajax("GET", `/playground${window.location.search}`, { target: "#playground", swap: "outerHTML" });
  }

  async function run(action) {
    try {
      await action();
    } catch (error) {
      if (error instanceof Expired) return recover();
      setPlaying(false);
      showFlag(error.message && !(error instanceof TypeError) ? error.message : message("server_error"));
    }
  }

  async function loop() {
    if (!playing || busy) return;
    busy = true;
    await run(async () => {
      const since = curve.epochs.length ? curve.epochs[curve.epochs.length - 1] : -1;
      draw(await api("POST", "/step", { epochs: EPOCHS_PER_FRAME, since }));
    });
    busy = false;
    if (playing) window.requestAnimationFrame(loop);
  }

  function setPlaying(on) {
    playing = on;
    const button = $("play");
    if (button) {
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.title = on ? button.dataset.pause : button.dataset.play;
    }
    if (on) loop();
  }

  // ---- colours and typed arrays ------------------------------------------------------------

  function hexToRgb(hex) {
    const n = parseInt(hex.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }

  const PALE = [247, 247, 247];

  function mix(a, b, t) {
    return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t));
  }

  function diverging(byte) {
    // 0 -> negative colour, 128 -> pale, 255 -> positive colour (TensorFlow Playground's scheme)
    const t = byte / 127.5 - 1;
    const negative = hexToRgb(state.colours.negative);
    const positive = hexToRgb(state.colours.positive);
    return t < 0 ? mix(PALE, negative, -t) : mix(PALE, positive, t);
  }

  function bytes(typed) {
    const text = atob(typed.bdata);
    const out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i += 1) out[i] = text.charCodeAt(i);
    return out;
  }

  function paint(canvas, size, colourAt) {
    // Row 0 of the data is the bottom of the square (x2 = -6); row 0 of a canvas is its top.
    if (!canvas) return;
    if (canvas.width !== size) {
      canvas.width = size;
      canvas.height = size;
    }
    const context = canvas.getContext("2d");
    const image = context.createImageData(size, size);
    for (let row = 0; row < size; row += 1) {
      for (let col = 0; col < size; col += 1) {
        const [r, g, b] = colourAt(row * size + col);
        const at = ((size - 1 - row) * size + col) * 4;
        image.data[at] = r;
        image.data[at + 1] = g;
        image.data[at + 2] = b;
        image.data[at + 3] = 255;
      }
    }
    context.putImageData(image, 0, 0);
  }

  function paintOutputs(out) {
    // One output node (two classes, regression) or one per class, showing where that class wins.
    const z = bytes(out.z);
    const layer = document.querySelectorAll(".node.output canvas");
    if (out.problem !== "multiclass") {
      paint(layer[0], out.grid, (at) => diverging(z[at]));
      return;
    }
    const confidence = bytes(out.confidence);
    layer.forEach((canvas, c) => {
      const colour = hexToRgb(state.colours.classes[c]);
      paint(canvas, out.grid, (at) => (z[at] === c ? mix(PALE, colour, confidence[at] / 255) : PALE));
    });
  }

  // ---- drawing a frame ---------------------------------------------------------------------

  function format(value, digits = 3) {
    if (value === null || value === undefined) return "–";
    return Number(value).toLocaleString(state.lang, { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  function drawMetrics(frame) {
    $("epoch").textContent = frame.epoch.toLocaleString(state.lang);
    $("train-loss").textContent = format(frame.metrics.train_loss);
    $("test-loss").textContent = format(frame.metrics.test_loss);
    const metric = frame.metrics.test_metric;
    const percent = frame.metrics.metric === "accuracy" && metric !== null;
    $("metric").textContent = percent ? `${format(metric * 100, 1)} %` : format(metric);
  }

  function drawCurve(frame) {
    const h = frame.history;
    const keep = curve.epochs.findIndex((epoch) => epoch >= h.start);
    if (keep >= 0) {
      for (const key of ["epochs", "train", "test"]) curve[key].length = keep;
    }
    h.train_loss.forEach((value, i) => {
      curve.epochs.push(h.start + i);
      curve.train.push(value);
      curve.test.push(h.test_loss[i]);
    });
    // Plotly redraws only for new arrays, so each frame hands it copies.
    Plotly.react("loss-chart", [
      { x: curve.epochs.slice(), y: curve.test.slice(), name: message("test"), mode: "lines", line: { color: state.colours.negative, width: 2 } },
      { x: curve.epochs.slice(), y: curve.train.slice(), name: message("train"), mode: "lines", line: { color: "#333", width: 2 } },
    ], {
      margin: { l: 40, r: 8, t: 8, b: 30 }, height: 130,
      xaxis: { title: { text: message("epoch") }, zeroline: false, range: [0, Math.max(10, curve.epochs[curve.epochs.length - 1] || 0)] },
      yaxis: { title: { text: message("loss") }, rangemode: "tozero" },
      legend: { orientation: "h", y: 1.15, x: 0 }, hovermode: "x unified",
    }, { displayModeBar: false, responsive: true });
  }

  function outputHeatmap(frame) {
    const out = frame.output;
    const size = out.grid;
    const z = bytes(out.z);
    const coords = Array.from({ length: size }, (_, i) => -6 + (12 * i) / (size - 1));
    const rows = [];
    if (out.problem === "multiclass") {
      const confidence = bytes(out.confidence);
      for (let r = 0; r < size; r += 1) {
        rows.push(Array.from({ length: size }, (_, c) => {
          const at = r * size + c;
          return z[at] + (state.discretize ? 0.999 : (0.999 * confidence[at]) / 255);
        }));
      }
      const k = out.classes;
      // Class c fills the band [c, c + 1): pale where the network is unsure, full colour where sure.
      const scale = [];
      state.colours.classes.slice(0, k).forEach((colour, c) => {
        scale.push([c / k, `rgb(${mix(PALE, hexToRgb(colour), 0.15).join(",")})`]);
        scale.push([c === k - 1 ? 1 : (c + 0.999) / k, colour]);
      });
      return { type: "heatmap", x: coords, y: coords, z: rows, zmin: 0, zmax: k, colorscale: scale, showscale: false, hoverinfo: "skip" };
    }
    for (let r = 0; r < size; r += 1) {
      rows.push(Array.from({ length: size }, (_, c) => {
        const v = z[r * size + c];
        return state.discretize ? (v >= 128 ? 255 : 0) : v;
      }));
    }
    const scale = [[0, state.colours.negative], [0.5, "rgb(247,247,247)"], [1, state.colours.positive]];
    return { type: "heatmap", x: coords, y: coords, z: rows, zmin: 0, zmax: 255, colorscale: scale, showscale: false, hoverinfo: "skip", opacity: 0.85, zsmooth: "best" };
  }

  function pointColours(ys) {
    if (state.problem === "multiclass") return ys.map((y) => state.colours.classes[y]);
    if (state.problem === "binary") return ys.map((y) => (y >= 0.5 ? state.colours.positive : state.colours.negative));
    return ys.map((y) => `rgb(${diverging(Math.max(0, Math.min(255, (y + 1) * 127.5))).join(",")})`);
  }

  function points(set, outline, name) {
    return {
      type: "scatter", mode: "markers", name, x: set.x1, y: set.x2,
      marker: { size: 6, color: pointColours(set.y), line: { color: outline, width: 1 } },
      hovertemplate: "x₁ %{x:.2f}<br>x₂ %{y:.2f}<extra></extra>",
    };
  }

  function drawOutput(frame) {
    // Regression points are coloured like the map under them: a dark rim keeps them visible.
    const rim = state.problem === "regression" ? "#444" : "#fff";
    const traces = [outputHeatmap(frame), points(state.data.train, rim, message("train"))];
    if (state.showTest) traces.push(points(state.data.test, "#000", message("test")));
    Plotly.react("output-chart", traces, {
      margin: { l: 30, r: 8, t: 8, b: 30 }, showlegend: false,
      xaxis: { range: [-6, 6], constrain: "domain", zeroline: false },
      yaxis: { range: [-6, 6], scaleanchor: "x", zeroline: false },
    }, { displayModeBar: false, responsive: true });
  }

  function drawNetwork(frame) {
    const nodes = frame.nodes;
    nodes.layers.forEach((layer, l) => {
      layer.forEach((typed, i) => {
        const values = bytes(typed);
        paint(document.querySelector(`#node-${l}-${i} canvas`), nodes.grid, (at) => diverging(values[at]));
      });
    });
    paintOutputs(frame.output);
    weights = frame.weights;
    biases = frame.biases;
    const largest = Math.max(1e-9, ...weights.flat(2).map(Math.abs));
    document.querySelectorAll("svg.edges path").forEach((path) => {
      const w = weights[path.dataset.layer][path.dataset.source][path.dataset.target];
      path.style.stroke = w >= 0 ? state.colours.positive : state.colours.negative;
      path.style.strokeWidth = `${0.5 + 6 * Math.min(1, Math.abs(w) / Math.max(1, largest))}`;
    });
  }

  function drawFlags(frame) {
    const flags = frame.flags;
    if (flags.diverged) {
      setPlaying(false);
      showFlag(message("diverged", { epoch: flags.diverged.epoch }));
    } else if (flags.zero_gradients) {
      showFlag(message("zero_gradients"));
    } else {
      showFlag("");
    }
  }

  function showFlag(text) {
    const flag = $("flags");
    if (!flag) return;
    flag.textContent = text;
    flag.hidden = !text;
  }

  function draw(frame) {
    lastFrame = frame;
    document.dispatchEvent(new CustomEvent("playground:frame", { detail: frame })); // for static/js/data.js
    drawMetrics(frame);
    drawCurve(frame);
    drawOutput(frame);
    drawNetwork(frame);
    drawFlags(frame);
  }

  function drawActivation() {
    const a = state.activation;
    Plotly.react("activation-chart", [
      { x: a.z, y: a.f, name: message("function"), mode: "lines", line: { color: state.colours.positive, width: 2 } },
      { x: a.z, y: a.df, name: message("derivative"), mode: "lines", line: { color: state.colours.negative, width: 2, dash: "dash" } },
    ], {
      margin: { l: 30, r: 8, t: 8, b: 24 }, height: 120, showlegend: false,
      xaxis: { zeroline: true }, yaxis: { zeroline: true },
    }, { displayModeBar: false, responsive: true });
  }

  // ---- editing weights and biases ------------------------------------------------------------

  function edit(label, current, save) {
    const dialog = $("edit-dialog");
    $("edit-label").textContent = label;
    $("edit-value").value = current;
    $("edit-error").textContent = "";
    $("edit-save").onclick = () => {
      const value = Number($("edit-value").value);
      if ($("edit-value").value.trim() === "" || !Number.isFinite(value) || Math.abs(value) > state.maxEdit) {
        $("edit-error").textContent = message("invalid_number", { max: state.maxEdit.toLocaleString(state.lang) });
        return;
      }
      dialog.close();
      run(async () => draw(await save(value)));
    };
    $("edit-cancel").onclick = () => dialog.close();
    $("edit-value").onkeydown = (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        $("edit-save").click();
      }
    };
    dialog.showModal();
    $("edit-value").focus();
  }

  function nodeName(layer, index) {
    const node = $(`node-${layer}-${index}`);
    const label = node && node.querySelector(".node-label");
    if (label) return label.textContent;
    if (node && node.classList.contains("output")) {
      return document.querySelectorAll(".node.output").length > 1 ? `${message("output")} ${index + 1}` : message("output");
    }
    return message("neuron", { layer, index: index + 1 });
  }

  function bindNetwork() {
    const tooltip = $("tooltip");
    document.querySelectorAll("svg.edges path").forEach((path) => {
      const { layer, source, target } = path.dataset;
      path.addEventListener("mousemove", (event) => {
        tooltip.hidden = false;
        tooltip.textContent = `${message("weight", { source: nodeName(+layer, +source), target: nodeName(+layer + 1, +target) })}: ${format(weights[layer][source][target])}`;
        tooltip.style.left = `${event.pageX + 12}px`;
        tooltip.style.top = `${event.pageY + 12}px`;
      });
      path.addEventListener("mouseleave", () => { tooltip.hidden = true; });
      path.addEventListener("click", () => edit(
        message("weight", { source: nodeName(+layer, +source), target: nodeName(+layer + 1, +target) }),
        weights[layer][source][target],
        (value) => api("PUT", "/weight", { layer: +layer, source: +source, target: +target, value }),
      ));
    });
    document.querySelectorAll(".node[tabindex]").forEach((node) => {
      const layer = Number(node.dataset.layer) - 1;
      const index = Number(node.dataset.index);
      const open = () => edit(message("bias"), biases[layer][index],
        (value) => api("PUT", "/bias", { layer, node: index, value }));
      node.addEventListener("click", open);
      node.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
      node.addEventListener("mousemove", (event) => {
        tooltip.hidden = false;
        tooltip.textContent = `${message("bias")}: ${format(biases[layer][index])}`;
        tooltip.style.left = `${event.pageX + 12}px`;
        tooltip.style.top = `${event.pageY + 12}px`;
      });
      node.addEventListener("mouseleave", () => { tooltip.hidden = true; });
    });
  }

  // ---- wiring the page -----------------------------------------------------------------------

  function bindButtons() {
    const on = (id, handler) => { const el = $(id); if (el) el.addEventListener("click", handler); };
    on("play", () => setPlaying(!playing));
    on("step", () => { setPlaying(false); run(async () => draw(await api("POST", "/step", { epochs: 1, since: lastFrame.epoch }))); });
    on("reset", () => run(async () => {
      setPlaying(false);
      const answer = await api("POST", "/reset", {});
      curve = { epochs: [], train: [], test: [] };
      draw(answer.frame);
    }));
    on("copy-link", async () => {
      const input = $("share-url");
      const link = new URL(input.value, window.location.href).href;
      input.value = link;
      try {
        await navigator.clipboard.writeText(link);
        $("copy-status").textContent = message("copied");
      } catch (error) {
        input.select();
        $("copy-status").textContent = document.execCommand("copy") ? message("copied") : message("copy_failed");
      }
    });
  }

  function start() {
    const element = $("playground-state");
    if (!element) return;
    state = JSON.parse(element.textContent);
    document.documentElement.lang = state.lang; // the language switch swaps only the playground
    document.title = state.title;
    window.history.replaceState(null, "", `/?${state.query}&lang=${state.lang}`);
    curve = { epochs: [], train: [], test: [] };
    bindButtons();
    bindNetwork();
    drawActivation();
    draw(state.frame);
    if (pendingFlag) showFlag(pendingFlag);
    pendingFlag = "";
    setPlaying(playing);
  }

  document.addEventListener("DOMContentLoaded", start);
  // Every change of the form swaps the whole playground in; start again on the new content.
  document.addEventListener("htmx:afterSettle", start);
})();
