// Your own data in, your model out: points drawn on the output chart, a CSV file or a saved model
// uploaded. The playground form carries a drawn set in its hidden `points` setting, in the format
// of app/points.py; a click edits those bytes and posts the form like any other change, so the
// server trains on the new set and the address bar becomes a link that reproduces it.
// Nothing here draws the charts: static/js/playground.js does, from the server's data.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const HIT_PIXELS = 8; // a click this close to a drawn point removes it
  // These survive the swaps of the playground form.
  let drawing = false;
  let drawClass = 1;
  let pending = []; // a drawing still too small to train on: rows [q1, q2, label]

  let parsed = { element: null, state: null };

  function page() {
    // The page's state (session, problem, colours, data points), read once per playground swap.
    const element = $("playground-state");
    if (element !== parsed.element) parsed = { element, state: element ? JSON.parse(element.textContent) : null };
    return parsed.state;
  }

  function limits() {
    const d = $("data-io").dataset;
    return {
      min: Number(d.minPoints), max: Number(d.maxPoints), levels: Number(d.levels),
      zero: Number(d.valueZero), half: Number(d.halfSide), problems: d.problems.split(","), version: Number(d.version),
    };
  }

  function colourOf(label) {
    // A class's colour as the output chart draws it; for regression, the sign of the value byte.
    const state = page();
    if (state.problem === "multiclass") return state.colours.classes[label];
    const positive = state.problem === "binary" ? label === 1 : label >= limits().zero;
    return positive ? state.colours.positive : state.colours.negative;
  }

  function say(template, params = {}) {
    let text = template || "";
    for (const [name, value] of Object.entries(params)) text = text.replaceAll(`{${name}}`, value);
    const status = $("draw-status");
    if (status) status.textContent = text;
  }

  // ---- the drawn set: base64url bytes [version, problem, q1, q2, label, ...] ------------------

  function drawnRows() {
    const text = $("points-field").value;
    if (!text) return [];
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const rows = [];
    for (let i = 2; i + 3 <= bytes.length; i += 3) rows.push([bytes[i], bytes[i + 1], bytes[i + 2]]);
    return rows;
  }

  function encode(rows, problem) {
    const l = limits();
    const bytes = [l.version, l.problems.indexOf(problem), ...rows.flat()];
    return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function post(rows) {
    // An empty set is no set: the playground goes back to its generated dataset.
    $("points-field").value = rows.length ? encode(rows, page().problem) : "";
    $("data-field").value = "";
    $("points-field").dispatchEvent(new Event("change", { bubbles: true }));
  }

  // ---- clicks on the output chart -------------------------------------------------------------

  function axes(chart) {
    const layout = chart._fullLayout; // Plotly's axes convert between pixels and data
    return layout && layout.xaxis && layout.yaxis ? { x: layout.xaxis, y: layout.yaxis } : null;
  }

  function quantise(value) {
    const l = limits();
    return Math.max(0, Math.min(l.levels, Math.round(((value + l.half) / (2 * l.half)) * l.levels)));
  }

  function coordinate(q) {
    const l = limits();
    return -l.half + (2 * l.half * q) / l.levels;
  }

  function newLabel() {
    if (page().problem !== "regression") return drawClass;
    const l = limits();
    return Math.round(Number($("draw-value").value) * l.zero + l.zero);
  }

  function nearest(rows, ax, px, py) {
    let best = -1;
    let bestDistance = HIT_PIXELS;
    rows.forEach(([q1, q2], index) => {
      const distance = Math.hypot(ax.x.d2p(coordinate(q1)) - px, ax.y.d2p(coordinate(q2)) - py);
      if (distance <= bestDistance) { best = index; bestDistance = distance; }
    });
    return best;
  }

  function clickChart(event) {
    const chart = $("output-chart");
    const ax = axes(chart);
    if (!drawing || !ax) return;
    const box = chart.getBoundingClientRect();
    const px = event.clientX - box.left - ax.x._offset;
    const py = event.clientY - box.top - ax.y._offset;
    if (px < 0 || py < 0 || px > ax.x._length || py > ax.y._length) return;
    const l = limits();
    const rows = drawnRows();
    const growing = rows.length ? rows : pending;
    const hit = nearest(growing, ax, px, py);
    if (hit >= 0) {
      growing.splice(hit, 1);
      if (rows.length && rows.length < l.min) return say($("data-io").dataset.tooFew, { needed: l.min });
    } else if (growing.length >= l.max) {
      return say($("data-io").dataset.tooMany, { limit: l.max });
    } else {
      growing.push([quantise(ax.x.p2d(px)), quantise(ax.y.p2d(py)), newLabel()]);
    }
    if (rows.length) return post(rows);
    if (pending.length >= l.min) {
      const drawn = pending;
      pending = [];
      return post(drawn);
    }
    showPending();
  }

  function showPending() {
    // Too few points to train on yet: shown as marks over the chart, and counted.
    const chart = $("output-chart");
    chart.querySelectorAll(".pending-point").forEach((mark) => mark.remove());
    const ax = axes(chart);
    if (!ax || !pending.length) return say("");
    pending.forEach(([q1, q2, label]) => {
      const mark = document.createElement("span");
      mark.className = "pending-point";
      mark.style.left = `${ax.x._offset + ax.x.d2p(coordinate(q1))}px`;
      mark.style.top = `${ax.y._offset + ax.y.d2p(coordinate(q2))}px`;
      mark.style.background = colourOf(label);
      chart.appendChild(mark);
    });
    const l = limits();
    say($("data-io").dataset.pending, { count: pending.length, needed: l.min, missing: l.min - pending.length });
  }

  // ---- files --------------------------------------------------------------------------------

  async function upload(input, kind) {
    const file = input.files && input.files[0];
    if (!file) return;
    const state = page();
    htmx.ajax("POST", `/s/${state.sid}/${kind}`, {
      target: "#playground", swap: "outerHTML", values: { file: await file.text(), lang: state.lang },
    });
  }

  // ---- metrics: confusion matrices, or predicted against true ----------------------------------

  function percent(value, lang) {
    return value === null ? "–" : new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 }).format(value);
  }

  function cell(row, tag, text) {
    const element = document.createElement(tag);
    element.textContent = text;
    row.appendChild(element);
    return element;
  }

  function confusionTable(split, detail, state) {
    const labels = $("metrics-detail").dataset;
    const className = (index) => labels.class.replace("{index}", index);
    const table = document.createElement("table");
    table.className = "confusion";
    table.createCaption().textContent = labels[split];
    const head = table.createTHead().insertRow();
    cell(head, "th", labels.corner);
    detail.confusion.forEach((_, j) => { cell(head, "th", className(j)).style.borderBottomColor = colourOf(j); });
    cell(head, "th", labels.accuracy);
    const body = table.createTBody();
    detail.confusion.forEach((counts, i) => {
      const row = body.insertRow();
      const name = cell(row, "th", className(i));
      name.scope = "row";
      name.style.borderLeftColor = colourOf(i);
      const total = counts.reduce((a, b) => a + b, 0);
      counts.forEach((count, j) => {
        const share = total ? count / total : 0;
        const shade = i === j ? "0,114,178" : "213,94,0"; // right: blue, wrong: vermilion
        cell(row, "td", count.toLocaleString(state.lang)).style.background = `rgba(${shade},${(0.6 * share).toFixed(3)})`;
      });
      cell(row, "td", percent(detail.class_accuracy[i], state.lang));
    });
    $(`confusion-${split}`).replaceChildren(table);
  }

  function predictionChart(frame, state) {
    const labels = $("metrics-detail").dataset;
    const traces = ["train", "test"].map((split) => {
      const predicted = frame.metrics_detail[split].predicted;
      return {
        type: "scatter", mode: "markers", name: labels[split],
        x: state.data[split].y.slice(0, predicted.length), y: predicted,
        marker: { size: 5, color: split === "train" ? state.colours.positive : state.colours.negative, opacity: 0.7 },
      };
    });
    const values = traces.flatMap((trace) => [...trace.x, ...trace.y]).filter((v) => v !== null);
    const low = Math.min(-1, ...values);
    const high = Math.max(1, ...values);
    traces.push({ type: "scatter", mode: "lines", x: [low, high], y: [low, high], hoverinfo: "skip", showlegend: false,
      line: { color: "#888", width: 1, dash: "dot" } });
    Plotly.react("prediction-chart", traces, {
      margin: { l: 44, r: 8, t: 8, b: 40 }, legend: { orientation: "h", y: 1.12, x: 0 },
      xaxis: { title: { text: labels.true }, range: [low, high] }, yaxis: { title: { text: labels.predicted }, range: [low, high] },
    }, { displayModeBar: false, responsive: true });
    const number = (v) => (v === null ? "–" : v.toLocaleString(state.lang, { maximumFractionDigits: 3 }));
    $("r2-values").textContent = labels.r2.replace("{train}", number(frame.metrics.train_metric))
      .replace("{test}", number(frame.metrics.test_metric));
  }

  function drawMetrics(frame) {
    const state = page();
    if (!$("metrics-detail") || !state || !frame.metrics_detail) return;
    if (state.problem === "regression") return predictionChart(frame, state);
    confusionTable("train", frame.metrics_detail.train, state);
    confusionTable("test", frame.metrics_detail.test, state);
  }

  // ---- pictures -------------------------------------------------------------------------------
  // Each picture is first an SVG as the page shows it (canvases as PNG images in it); its PNG is
  // that SVG drawn at twice its size, except the loss chart's, which is its canvas as drawn.

  const SVG_NS = "http://www.w3.org/2000/svg";

  function save(url, name) {
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  function svgElement(tag, attributes) {
    const element = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    return element;
  }

  function blankSvg(box) {
    // A white SVG of the size of ``box`` (an element's rectangle on the page).
    const svg = svgElement("svg", { xmlns: SVG_NS, width: box.width, height: box.height, viewBox: `0 0 ${box.width} ${box.height}` });
    svg.appendChild(svgElement("rect", { width: box.width, height: box.height, fill: "#fff" }));
    return svg;
  }

  function canvasImage(canvas, box, href = canvas.toDataURL("image/png")) {
    // The canvas as an <image> where it is on the page, relative to ``box``.
    const r = canvas.getBoundingClientRect();
    return svgElement("image", { x: r.left - box.left, y: r.top - box.top, width: r.width, height: r.height, href, preserveAspectRatio: "none" });
  }

  function serialised(svg, box) {
    return { text: new XMLSerializer().serializeToString(svg), width: box.width, height: box.height };
  }

  function networkSvg() {
    // The diagram is HTML nodes (each a canvas) over an SVG of edges: one SVG of both, as drawn.
    const plot = document.querySelector(".diagram-plot");
    const box = plot.getBoundingClientRect();
    const svg = blankSvg(box);
    const edges = plot.querySelector("svg.edges").cloneNode(true);
    for (const [name, value] of Object.entries({ x: 0, y: 0, width: box.width, height: box.height })) edges.setAttribute(name, value);
    edges.querySelectorAll("path").forEach((path) => { path.setAttribute("fill", "none"); path.removeAttribute("id"); });
    svg.appendChild(edges);
    plot.querySelectorAll(".node").forEach((node) => {
      const image = canvasImage(node.querySelector("canvas"), box);
      svg.appendChild(image);
      const at = Object.fromEntries(["x", "y", "width", "height"].map((name) => [name, Number(image.getAttribute(name))]));
      svg.appendChild(svgElement("rect", { ...at, fill: "none", stroke: "#999" }));
      const label = node.querySelector(".node-label");
      if (label) {
        const text = svgElement("text", { x: at.x - 4, y: at.y + at.height / 2, "text-anchor": "end", "dominant-baseline": "middle",
          "font-family": "sans-serif", "font-size": 12 });
        text.textContent = label.textContent;
        svg.appendChild(text);
      }
    });
    return serialised(svg, box);
  }

  async function outputSvg() {
    // The map's canvas under the Plotly chart's axes and points, as on the page.
    const plot = document.querySelector(".output-plot");
    const box = plot.getBoundingClientRect();
    const svg = blankSvg(box);
    svg.appendChild(canvasImage($("output-map"), box));
    const chart = $("output-chart");
    const size = { width: chart._fullLayout.width, height: chart._fullLayout.height }; // as on the page
    const url = await Plotly.toImage(chart, { format: "svg", ...size });
    const drawn = new DOMParser().parseFromString(decodeURIComponent(url.slice(url.indexOf(",") + 1)), "image/svg+xml").documentElement;
    const r = chart.getBoundingClientRect();
    drawn.setAttribute("x", r.left - box.left);
    drawn.setAttribute("y", r.top - box.top);
    svg.appendChild(document.importNode(drawn, true));
    return serialised(svg, box);
  }

  function lossPng() {
    // The loss chart's canvas at its own resolution, on white (the canvas itself is transparent).
    const chart = $("loss-chart");
    const canvas = document.createElement("canvas");
    canvas.width = chart.width;
    canvas.height = chart.height;
    const g = canvas.getContext("2d");
    g.fillStyle = "#fff";
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.drawImage(chart, 0, 0);
    return canvas.toDataURL("image/png");
  }

  function lossSvg() {
    const chart = $("loss-chart");
    const box = chart.getBoundingClientRect();
    const svg = blankSvg(box);
    svg.appendChild(canvasImage(chart, box, lossPng()));
    return serialised(svg, box);
  }

  function rasterised(svgUrl, width, height) {
    // An SVG drawn into a canvas at twice its size: a crisp PNG for a slide.
    return new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => {
        const canvas = document.createElement("canvas");
        canvas.width = 2 * width;
        canvas.height = 2 * height;
        canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
        resolve(canvas.toDataURL("image/png"));
      };
      image.onerror = reject;
      image.src = svgUrl;
    });
  }

  const PICTURES = { output: outputSvg, loss: lossSvg, network: networkSvg };

  async function savePicture(picture, format) {
    // Data URLs throughout: a picture never leaves the page, not even as a blob.
    const name = `playground-${picture}.${format}`;
    if (picture === "loss" && format === "png") return save(lossPng(), name);
    const drawn = await PICTURES[picture]();
    const url = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(drawn.text)}`;
    save(format === "svg" ? url : await rasterised(url, drawn.width, drawn.height), name);
  }

  // ---- TensorFlow Playground links ---------------------------------------------------------------

  function openTfpg() {
    const address = $("tfpg-url").value.trim();
    if (address) window.location.assign(`/from-tfpg?url=${encodeURIComponent(address)}&lang=${page().lang}`);
  }

  // ---- wiring ---------------------------------------------------------------------------------

  function showControls() {
    const toggle = $("draw-toggle");
    if (!toggle) return;
    toggle.setAttribute("aria-pressed", String(drawing));
    $("output-chart").classList.toggle("drawing", drawing);
    const classes = document.querySelectorAll(".draw-class");
    if (drawClass >= classes.length) drawClass = classes.length - 1;
    classes.forEach((button) => {
      const index = Number(button.dataset.class);
      button.setAttribute("aria-pressed", String(index === drawClass));
      button.style.borderColor = colourOf(index);
    });
    showPending();
  }

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    if (target.closest("#output-chart")) return clickChart(event);
    const button = target.closest("#data-io button");
    if (!button) return;
    if (button.id === "draw-toggle") {
      drawing = !drawing;
      showControls();
    } else if (button.classList.contains("draw-class")) {
      drawClass = Number(button.dataset.class);
      showControls();
    } else if (button.id === "tfpg-open") {
      openTfpg();
    } else if (button.classList.contains("picture")) {
      savePicture(button.dataset.picture, button.dataset.format);
    } else if (button.id === "draw-clear" || button.id === "data-generated") {
      pending = [];
      showPending();
      post([]);
    }
  });

  // Capture: runs before HTMX hears the change on the form.
  document.addEventListener("change", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    if (target.closest("#data-io") && !["points-field", "data-field"].includes(target.id)) {
      event.stopPropagation(); // these controls are not settings of the playground
      if (target.id === "data-file") upload(target, "data");
      if (target.id === "model-file") upload(target, "model");
    } else if (target.name === "dataset" || target.name === "problem") {
      // A generated dataset was chosen: the drawn or uploaded one gives way.
      if ($("points-field")) $("points-field").value = "";
      if ($("data-field")) $("data-field").value = "";
      pending = [];
    }
  }, true);

  document.addEventListener("keydown", (event) => {
    // Enter in the address box opens it, and must not submit the playground form.
    if (event.key === "Enter" && event.target instanceof Element && event.target.id === "tfpg-url") {
      event.preventDefault();
      openTfpg();
    }
  });

  document.addEventListener("input", (event) => {
    if (event.target instanceof Element && event.target.id === "draw-value") {
      $("draw-value-shown").textContent = event.target.value;
    }
  });

  document.addEventListener("htmx:responseError", (event) => {
    // The session expired while a file was on its way: rebuild the playground from its link.
    if (event.detail.xhr.status === 404 && /^\/s\/[^/]+\/(data|model)$/.test(event.detail.pathInfo.requestPath)) {
      htmx.ajax("GET", `/playground${window.location.search}`, { target: "#playground", swap: "outerHTML" });
    }
  });

  document.addEventListener("playground:frame", (event) => drawMetrics(event.detail)); // from playground.js
  document.addEventListener("DOMContentLoaded", showControls);
  document.addEventListener("htmx:afterSettle", showControls);
})();
