// The animation loop: everything else (controls, layout, text) is HTML from the server, and the
// drawing is drawing.js. While playing, the next frame is asked for as soon as the current one
// arrives, so it travels while this one is drawn; at most one frame is in flight beyond the one
// drawn, so a slow server slows the animation down instead of piling requests up.
(() => {
  "use strict";

  const EPOCHS_PER_FRAME = 2;
  const OUTPUT_MARGIN = { l: 30, r: 8, t: 8, b: 30 }; // the output chart's plot area, in pixels
  const { palettes, paint, LossChart } = window.PlaygroundDrawing;
  let state = null; // the page's state: session id, first frame, data points, messages
  let playing = false;
  let runId = 0; // a new playground or a reset abandons the frames asked for before it
  let stream = null; // the frame stream (stream.js) while it works; else the JSON step
  let streamFailed = false; // the stream failed where the JSON step worked: JSON from then on
  let streamWorked = false; // the current stream delivered a frame: if it breaks, open another
  let colours = null; // colour tables of this playground (drawing.js palettes)
  let lossChart = null;
  let edges = []; // the diagram's weight paths with their indices, found once per playground
  let gradientCells = []; // per layer: the bar and the number of its gradient's size
  let tooltipText = null; // what the shown tooltip says, asked again at every frame
  let preview = null; // the node whose map the output panel shows instead of the output
  let weights = [];
  let biases = [];
  let lastFrame = null;
  let pendingFlag = ""; // a message to show once the next playground is drawn
  // A run's loss curves kept to compare the next runs with: {curves, settings, epoch, train,
  // test}, or null. It outlives the playground's swaps, and a reload of the tab (sessionStorage).
  let pinned;

  const $ = (id) => document.getElementById(id);

  function message(key, params = {}) {
    // Every {name} is filled (a message may use one twice); numbers as the page's language writes them.
    let text = state.messages[key] || key;
    for (const [name, value] of Object.entries(params)) {
      text = text.replaceAll(`{${name}}`, typeof value === "number" ? value.toLocaleString(state.lang) : value);
    }
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
    if (response.status === 503) throw new Error(message("unavailable")); // the session store is away
    const payload = await response.json();
    if (!response.ok) {
      const detail = Array.isArray(payload.detail) ? payload.detail.map((d) => d.message).join("; ") : payload.detail;
      throw new Error(detail || response.statusText);
    }
    return payload;
  }

  function typed(value) {
    // A JSON frame's heatmap (uint8) or gradients (float32) are a Plotly typed array (base64); a
    // streamed frame's are already a Uint8Array or a Float32Array.
    if (ArrayBuffer.isView(value)) return value;
    const bytes = Uint8Array.from(atob(value.bdata), (c) => c.charCodeAt(0));
    return value.dtype === "f4" ? new Float32Array(bytes.buffer) : bytes;
  }

  function decoded(frame) {
    // Every heatmap of a frame as a Uint8Array, every layer's gradients as a Float32Array,
    // whichever way the frame came.
    const out = frame.output;
    out.z = typed(out.z);
    if (out.confidence) out.confidence = typed(out.confidence);
    for (const layer of frame.nodes.layers) layer.forEach((map, i) => { layer[i] = typed(map); });
    for (const key of ["weight_gradients", "bias_gradients"]) {
      if (frame[key]) frame[key] = frame[key].map(typed);
    }
    return frame;
  }

  async function nextFrame(since) {
    // The stream when the page has one and it works; the JSON step otherwise.
    const request = { epochs: EPOCHS_PER_FRAME, since, grid: lastFrame.output.grid };
    if (stream === null && window.FrameStream && !streamFailed) stream = new window.FrameStream(state.sid);
    if (stream === null) return api("POST", "/step", request);
    try {
      const frame = await stream.step(request);
      streamWorked = true;
      return frame;
    } catch (error) {
      if (error instanceof window.FrameStream.Expired) throw new Expired();
      // The same request as JSON: if that works, the stream was at fault (a proxy without
      // WebSockets, say); if not, the server's answer is the error to show. A stream that had
      // worked lost its server (one of several behind a proxy died): the next frame opens another.
      const frame = await api("POST", "/step", request);
      streamFailed = !streamWorked;
      streamWorked = false;
      closeStream();
      return frame;
    }
  }

  function closeStream() {
    if (stream !== null) stream.close();
    stream = null;
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

  const painted = () => new Promise((done) => window.requestAnimationFrame(done));

  async function loop() {
    const id = ++runId;
    await run(async () => {
      let next = nextFrame(lastFrame.epoch);
      while (next !== null) {
        const frame = await next;
        next = playing ? nextFrame(frame.epoch) : null; // travels while this one is drawn
        // Its failure is met when it is awaited (or it is dropped): not an uncaught rejection
        // while this frame waits for the screen.
        if (next !== null) next.catch(() => {});
        await painted(); // drawn as a screen refresh begins: one draw per refresh, none unseen
        if (id !== runId) return; // a reset or a new playground came first
        draw(frame);
      }
    });
  }

  function setPlaying(on) {
    const begin = on && !playing;
    playing = on;
    showPlaying();
    if (begin) loop();
  }

  function showPlaying() {
    const button = $("play");
    if (button) {
      button.setAttribute("aria-pressed", playing ? "true" : "false");
      button.title = playing ? button.dataset.pause : button.dataset.play;
    }
  }

  // ---- drawing a frame ---------------------------------------------------------------------

  const formats = new Map(); // Intl.NumberFormat is slow to make and quick to use: one per style

  function formatter(style) {
    const key = `${state.lang} ${style}`;
    if (!formats.has(key)) {
      const options = style === "scientific" ? { notation: "scientific", maximumFractionDigits: 2 }
        : style === "tick" ? { maximumSignificantDigits: 2 }
          : style === "significant" ? { maximumSignificantDigits: 3 }
          : { minimumFractionDigits: style, maximumFractionDigits: style };
      formats.set(key, new Intl.NumberFormat(state.lang, options));
    }
    return formats.get(key);
  }

  function compact(value, style, smallest, largest) {
    // Scientific notation outside [smallest, largest): 5.92E225, never 226 digits.
    const size = Math.abs(value);
    const scientific = size !== 0 && (size >= largest || size < smallest);
    return formatter(scientific ? "scientific" : style).format(value);
  }

  function format(value, digits = 3) {
    // A readout: a fixed number of decimals while that reads well, of bounded width always.
    if (value === null || value === undefined) return "–";
    return compact(value, digits, 10 ** -digits, 1e5);
  }

  function tick(value) {
    // An axis label, a few characters wide: 0.38, 12, 1.23E3.
    return compact(value, "tick", 0.01, 1000);
  }

  function gradientText(value) {
    // A gradient in a tooltip: 3 significant digits, 0.0421 or 4.21E-3.
    return value === null || value === undefined ? "–" : compact(value, "significant", 0.01, 1e4);
  }

  function drawMetrics(frame) {
    $("epoch").textContent = formatter(0).format(frame.epoch);
    $("train-loss").textContent = format(frame.metrics.train_loss);
    $("test-loss").textContent = format(frame.metrics.test_loss);
    const metric = frame.metrics.test_metric;
    const percent = frame.metrics.metric === "accuracy" && metric !== null;
    $("metric").textContent = percent ? `${format(metric * 100, 1)} %` : format(metric);
  }

  function drawOutputMap(frame) {
    // The output over the input square, or the map of the node under the mouse.
    const canvas = $("output-map");
    if (preview) {
      const layer = frame.nodes.layers[preview.layer];
      if (layer) return paint(canvas, frame.nodes.grid, colours.nodes, layer[preview.index]);
      const out = frame.output;
      if (out.problem !== "multiclass") return paint(canvas, out.grid, colours.nodes, out.z);
    }
    const out = frame.output;
    paint(canvas, out.grid, colours.output, out.z, out.problem === "multiclass" ? out.confidence : undefined);
  }

  function drawOutputNodes(out) {
    // One output node (two classes, regression) or one per class, showing where that class wins.
    const layer = document.querySelectorAll(".node.output canvas");
    if (out.problem !== "multiclass") return paint(layer[0], out.grid, colours.nodes, out.z);
    const size = out.grid * out.grid;
    layer.forEach((canvas, c) => {
      const mine = new Uint8Array(size);
      for (let i = 0; i < size; i += 1) mine[i] = out.z[i] === c ? out.confidence[i] : 0;
      paint(canvas, out.grid, colours.output, new Uint8Array(size).fill(c), mine);
    });
  }

  function drawNetwork(frame) {
    frame.nodes.layers.forEach((layer, l) => {
      layer.forEach((values, i) => paint(document.querySelector(`#node-${l}-${i} canvas`), frame.nodes.grid, colours.nodes, values));
    });
    drawOutputNodes(frame.output);
    weights = frame.weights;
    biases = frame.biases;
    let largest = 1;
    for (const e of edges) largest = Math.max(largest, Math.abs(weights[e.layer][e.source][e.target]));
    for (const e of edges) {
      // Restyled only when the colour or the width (in steps of 0.1) changes: each restyle
      // repaints the diagram, and from one frame to the next most weights barely move.
      const w = weights[e.layer][e.source][e.target];
      const look = (w >= 0 ? 1 : -1) * (5 + Math.round(60 * Math.min(1, Math.abs(w) / largest)));
      if (look === e.look) continue;
      e.look = look;
      e.path.style.stroke = w >= 0 ? state.colours.positive : state.colours.negative;
      e.path.style.strokeWidth = `${Math.abs(look) / 10}`;
    }
  }

  const GRADIENT_SCALE = [-6, 2]; // the bars' log scale: 10⁻⁶ (empty) to 10² (full), as the legend says

  function drawGradients(frame) {
    // Each layer's gradient size as a bar and a number; nothing to draw for a method without one.
    const none = frame.weight_gradients === null;
    for (const [id, hidden] of [["gradient-none", !none], ["gradient-legend", none], ["gradient-row", none]]) {
      const element = $(id);
      if (element && element.hidden !== hidden) element.hidden = hidden;
    }
    const [low, high] = GRADIENT_SCALE;
    frame.gradient_norms.forEach((norm, l) => {
      const cell = gradientCells[l];
      if (!cell) return;
      const share = norm > 0 ? Math.min(1, Math.max(0, (Math.log10(norm) - low) / (high - low))) : 0;
      const height = `${(share * 100).toFixed(1)}%`;
      if (cell.fill.style.height !== height) cell.fill.style.height = height;
      const text = norm === null ? "–" : tick(norm);
      if (cell.value.textContent !== text) cell.value.textContent = text;
    });
  }

  function drawFlags(frame) {
    const flags = frame.flags;
    if (flags.diverged) {
      setPlaying(false);
      showFlag(message("diverged", { epoch: flags.diverged.epoch }));
    } else if (flags.zero_gradients) {
      showFlag(message("zero_gradients"));
    } else if (flags.oscillating) {
      showFlag(message("oscillating"));
    } else {
      showFlag("");
    }
  }

  function showFlag(text) {
    const flag = $("flags");
    if (!flag || flag.textContent === text) return;
    flag.textContent = text;
    flag.hidden = !text;
  }

  function draw(frame) {
    lastFrame = decoded(frame);
    document.dispatchEvent(new CustomEvent("playground:frame", { detail: frame })); // for static/js/data.js
    drawMetrics(frame);
    lossChart.extend(frame.history);
    lossChart.draw();
    drawOutputMap(frame);
    drawNetwork(frame);
    drawGradients(frame);
    drawFlags(frame);
    if (tooltipText) $("tooltip").textContent = tooltipText(); // a weight hovered while it learns
  }

  function pointColours(ys) {
    if (state.problem === "multiclass") return ys.map((y) => state.colours.classes[y]);
    if (state.problem === "binary") return ys.map((y) => (y >= 0.5 ? state.colours.positive : state.colours.negative));
    return ys.map((y) => colours.pointColour(Math.max(0, Math.min(255, (y + 1) * 127.5))));
  }

  function points(set, outline, name) {
    return {
      type: "scatter", mode: "markers", name, x: set.x1, y: set.x2,
      marker: { size: 6, color: pointColours(set.y), line: { color: outline, width: 1 } },
      hovertemplate: "x₁ %{x:.2f}<br>x₂ %{y:.2f}<extra></extra>",
    };
  }

  function drawPoints() {
    // Once per playground: the axes and the data points, over the map's canvas (see the CSS).
    const rim = state.problem === "regression" ? "#444" : "#fff";
    const traces = [points(state.data.train, rim, message("train"))];
    if (state.showTest) traces.push(points(state.data.test, "#000", message("test")));
    const m = OUTPUT_MARGIN;
    Object.assign($("output-map").style, { left: `${m.l}px`, top: `${m.t}px`, width: `calc(100% - ${m.l + m.r}px)`, height: `calc(100% - ${m.t + m.b}px)` });
    const clear = "rgba(0,0,0,0)";
    Plotly.react("output-chart", traces, {
      margin: m, showlegend: false, paper_bgcolor: clear, plot_bgcolor: clear,
      separators: state.separators, // the decimal mark of the page's language
      xaxis: { range: [-state.halfSide, state.halfSide], zeroline: false, showgrid: false, fixedrange: true },
      yaxis: { range: [-state.halfSide, state.halfSide], zeroline: false, showgrid: false, fixedrange: true },
    }, { displayModeBar: false, responsive: true });
  }

  function drawActivation() {
    const a = state.activation;
    Plotly.react("activation-chart", [
      { x: a.z, y: a.f, name: message("function"), mode: "lines", line: { color: state.colours.positive, width: 2 } },
      { x: a.z, y: a.df, name: message("derivative"), mode: "lines", line: { color: state.colours.negative, width: 2, dash: "dash" } },
    ], {
      margin: { l: 30, r: 8, t: 8, b: 24 }, height: 120, showlegend: false,
      separators: state.separators, // the decimal mark of the page's language
      xaxis: { zeroline: true }, yaxis: { zeroline: true },
    }, { displayModeBar: false, responsive: true });
  }

  function bindPreview() {
    // Hovering (or focusing) a node shows its map enlarged in the output panel.
    document.querySelectorAll(".diagram .node").forEach((node) => {
      const layer = Number(node.dataset.layer);
      const index = Number(node.dataset.index);
      const show = (on) => {
        preview = on ? { layer, index } : null;
        const caption = $("output-caption");
        caption.textContent = on ? message("node_map", { node: nodeName(layer, index) }) : "";
        caption.hidden = !on;
        drawOutputMap(lastFrame);
      };
      node.addEventListener("mouseenter", () => show(true));
      node.addEventListener("mouseleave", () => show(false));
      node.addEventListener("focus", () => show(true));
      node.addEventListener("blur", () => show(false));
    });
  }

  // ---- editing weights and biases ------------------------------------------------------------

  function edit(label, current, save) {
    // The box shows the number as the page's language writes it (0,25 in Spanish) and reads it
    // back with either mark; weights come rounded to 6 significant digits (null: not finite).
    const dialog = $("edit-dialog");
    const decimalMark = state.separators[0];
    $("edit-label").textContent = label;
    $("edit-value").value = current === null ? "" : current.toLocaleString(state.lang, { maximumSignificantDigits: 6, useGrouping: false });
    $("edit-error").textContent = "";
    $("edit-save").onclick = () => {
      const text = $("edit-value").value.trim();
      const value = Number(text.includes(".") ? text : text.replace(decimalMark, "."));
      if (text === "" || !Number.isFinite(value) || Math.abs(value) > state.maxEdit) {
        $("edit-error").textContent = message("invalid_number", { max: state.maxEdit });
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

  function gradientLine(key, gradients, layer, index) {
    // The tooltip's second line: ∂J/∂w (or ∂J/∂b) of the last mini-batch, when the method has one.
    return gradients ? `\n${message(key, { value: gradientText(gradients[layer][index]) })}` : "";
  }

  function bindNetwork() {
    // Every weight (a line) and bias (a neuron) is read by hovering or focusing it, with its
    // gradient, and edited by clicking it or pressing Enter or Space on it.
    const tooltip = $("tooltip");
    const editable = (element, name, value, gradient, save) => {
      const text = () => `${name()}: ${format(value())}${gradient()}`;
      const show = (x, y) => {
        tooltip.hidden = false;
        tooltipText = text;
        tooltip.textContent = text();
        tooltip.style.left = `${x + 12}px`;
        tooltip.style.top = `${y + 12}px`;
      };
      const hide = () => {
        tooltip.hidden = true;
        tooltipText = null;
      };
      const open = () => edit(name(), value(), save);
      element.addEventListener("mousemove", (event) => show(event.pageX, event.pageY));
      element.addEventListener("focus", () => {
        const box = element.getBoundingClientRect();
        show(box.left + window.scrollX + box.width / 2, box.top + window.scrollY + box.height / 2);
      });
      element.addEventListener("mouseleave", hide);
      element.addEventListener("blur", hide);
      element.addEventListener("click", open);
      element.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          open();
        }
      });
    };
    document.querySelectorAll("svg.edges path").forEach((path) => {
      const [layer, source, target] = ["layer", "source", "target"].map((key) => Number(path.dataset[key]));
      const name = () => message("weight", { source: nodeName(layer, source), target: nodeName(layer + 1, target) });
      path.setAttribute("aria-label", name());
      editable(path, name, () => weights[layer][source][target],
        () => gradientLine("weight_gradient", lastFrame.weight_gradients, layer, source * biases[layer].length + target),
        (value) => api("PUT", "/weight", { layer, source, target, value }));
    });
    document.querySelectorAll(".node[tabindex]").forEach((node) => {
      const layer = Number(node.dataset.layer) - 1;
      const index = Number(node.dataset.index);
      editable(node, () => message("bias"), () => biases[layer][index],
        () => gradientLine("bias_gradient", lastFrame.bias_gradients, layer, index),
        (value) => api("PUT", "/bias", { layer, node: index, value }));
    });
  }

  // ---- pinning a run's loss curves -------------------------------------------------------------

  const PIN_KEY = `playground.pinned:${window.location.pathname}`; // one pinned run per page of the tab
  const UNSTATED = new Set(["lang", "hide", "hide_text", "show_test", "discretize"]); // not how a run trains

  function storedPin() {
    try {
      const stored = JSON.parse(window.sessionStorage.getItem(PIN_KEY));
      return stored && stored.curves && stored.settings ? stored : null;
    } catch (error) {
      return null; // no storage (or a damaged entry): nothing pinned
    }
  }

  function storePin() {
    try {
      if (pinned) window.sessionStorage.setItem(PIN_KEY, JSON.stringify(pinned));
      else window.sessionStorage.removeItem(PIN_KEY);
    } catch (error) {
      // full or forbidden: the pin lasts as long as the page
    }
  }

  function settings() {
    // The form's values by name (several values joined by commas), as the next post would send them.
    const values = {};
    for (const [name, value] of new FormData($("playground"))) {
      if (UNSTATED.has(name) || value === "") continue;
      values[name] = name in values ? `${values[name]},${value}` : value;
    }
    return values;
  }

  function describe(name, raw) {
    // "Learning rate: 0.03", as the page shows that setting; null for one it does not show.
    const text = (element) => element.textContent.trim();
    if (name === "layers") return `${message("layers")}: ${raw ? raw.split(",").join(" · ") : "0"}`;
    if (name === "seed") return `${message("seed")}: ${raw}`;
    if (name === "dataset") {
      const choice = $(`dataset-${raw}`);
      return `${text($("data-title"))}: ${choice ? text(choice.closest("label")) : raw}`;
    }
    if (name === "features") {
      const feature = (f) => ($(`feature-${f}`) ? text($(`feature-${f}`).closest("label")) : f);
      return `${text($("features-title"))}: ${raw.split(",").map(feature).join(", ")}`;
    }
    const control = document.querySelector(`[data-control="${name}"]`);
    const input = $(`control-${name}`);
    if (!control || !input) return null;
    const label = text($(`control-${name}-label`) ?? control.querySelector("span"));
    let value = raw;
    if (input instanceof HTMLSelectElement) {
      const option = [...input.options].find((o) => o.value === raw);
      value = option ? text(option) : raw;
    } else if (input.type === "range") {
      value = raw + (input.dataset.unit || "");
    } else if (raw.trim() !== "" && Number.isFinite(Number(raw))) {
      value = Number(raw).toLocaleString(state.lang);
    }
    return `${label}: ${value}`;
  }

  function showPinned() {
    // The pinned run's curves under the current ones, and which run that was: the settings it
    // had that differ from the form's now, and where its loss had got to.
    lossChart.pin(pinned ? pinned.curves : null);
    const unpin = $("unpin-curve");
    if (unpin) unpin.disabled = !pinned;
    const caption = $("pinned-caption");
    if (!caption) return;
    caption.hidden = !pinned;
    if (!pinned) return;
    const now = settings();
    const names = [...new Set([...Object.keys(now), ...Object.keys(pinned.settings)])];
    const changed = names.filter((name) => now[name] !== pinned.settings[name])
      .map((name) => (name in pinned.settings ? describe(name, pinned.settings[name]) : null))
      .filter((line) => line !== null);
    caption.textContent = message("pinned_run", {
      settings: changed.length ? changed.join("; ") : message("same_settings"),
      epoch: formatter(0).format(pinned.epoch),
      train: format(pinned.train),
      test: format(pinned.test),
    });
  }

  function pin(on) {
    pinned = on ? {
      curves: lossChart.curves(),
      settings: settings(),
      epoch: lastFrame.epoch,
      train: lastFrame.metrics.train_loss,
      test: lastFrame.metrics.test_loss,
    } : null;
    storePin();
    showPinned();
    if (!on) $("pin-curve").focus(); // the Unpin button is disabled now
  }

  // ---- wiring the page -----------------------------------------------------------------------

  function bindButtons() {
    const on = (id, handler) => { const el = $(id); if (el) el.addEventListener("click", handler); };
    on("play", () => setPlaying(!playing));
    on("pin-curve", () => pin(true));
    on("unpin-curve", () => pin(false));
    on("step", () => { setPlaying(false); run(async () => draw(await api("POST", "/step", { epochs: 1, since: lastFrame.epoch }))); });
    on("reset", () => run(async () => {
      setPlaying(false);
      runId += 1; // a frame still in flight belongs to the old run
      const answer = await api("POST", "/reset", {});
      lossChart.clear();
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
    window.history.replaceState(null, "", state.url); // the canonical link, as HX-Replace-Url sends it
    runId += 1;
    closeStream(); // the session may be another one now
    colours = palettes(state.colours, state.problem, state.discretize);
    if (lossChart) lossChart.disconnect();
    lossChart = new LossChart($("loss-chart"), {
      colours: { test: state.colours.negative, train: "#333" },
      labels: {
        epoch: message("epoch"), loss: message("loss"), lossLog: message("loss_log"),
        train: message("train"), test: message("test"), pinned: message("pinned"),
      },
      tick,
      whole: (v) => formatter(0).format(v),
    });
    edges = [...document.querySelectorAll("svg.edges path")].map((path) => ({
      path, layer: Number(path.dataset.layer), source: Number(path.dataset.source), target: Number(path.dataset.target),
    }));
    const values = document.querySelectorAll(".gradient-value");
    gradientCells = [...document.querySelectorAll(".gradient-fill")].map((fill, l) => ({ fill, value: values[l] }));
    preview = null;
    tooltipText = null;
    bindButtons();
    bindNetwork();
    bindPreview();
    drawActivation();
    drawPoints();
    draw(state.frame);
    if (pinned === undefined) pinned = storedPin(); // the first playground of this page
    showPinned();
    if (pendingFlag) showFlag(pendingFlag);
    pendingFlag = "";
    showPlaying();
    if (playing) loop();
  }

  // htmx.onLoad runs on the first page and on everything HTMX swaps in (the whole playground after
  // every change of the form): start again only when that content is a playground.
  htmx.onLoad((element) => { if (element === document.body || element.id === "playground") start(); });
})();
