// The lesson page around the playground (app/routes/lessons.py), and the lessons' own views.
//
// playground.js points the address bar at the playground's own link (/?<query>); on a lesson page
// it must stay on the lesson (/lessons/<n>?<query>), so that a reload, or a session that expired,
// comes back to the same lesson with the student's changes. The language links and the title
// follow it. The views (backpropagation step by step, the perceptron point by point, the cost
// surface, standardising before/after) draw what GET /lessons/<n>/view computes with the engine.
(() => {
  "use strict";

  const page = document.querySelector(".lesson-page");
  if (!page) return;

  const playgroundState = () => JSON.parse(document.getElementById("playground-state").textContent);

  function lessonUrl(lang) {
    const state = playgroundState();
    return `${page.dataset.lessonPath}?${state.query}&lang=${lang || state.lang}`;
  }

  function keepLesson() {
    window.history.replaceState(null, "", lessonUrl());
    document.title = page.dataset.lessonTitle;
    document.querySelectorAll(".lesson-languages a[data-lang]").forEach((link) => {
      link.href = lessonUrl(link.dataset.lang);
    });
  }

  // ---- the views ------------------------------------------------------------------------------

  const view = document.getElementById("lesson-view");
  const messages = view ? JSON.parse(view.querySelector(".view-messages").textContent) : {};
  let lastQuery = null; // the configuration the view was drawn for
  let move = () => {}; // what the view's buttons do: set by the view drawn last

  function message(key, params = {}) {
    let text = messages[key] || key;
    for (const [name, value] of Object.entries(params)) text = text.replace(`{${name}}`, value);
    return text;
  }

  function formatter(lang) {
    const plain = new Intl.NumberFormat(lang, { maximumFractionDigits: 4 });
    const comma = plain.format(0.5).includes(",");
    return (value) => (value !== 0 && Math.abs(value) < 1e-3
      ? value.toExponential(2).replace(".", comma ? "," : ".")
      : plain.format(value));
  }

  function element(tag, attributes = {}, children = []) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    for (const child of children) node.append(child);
    return node;
  }

  function table(head, rows) {
    return element("table", { class: "view-table" }, [
      element("thead", {}, [element("tr", {}, head.map((h) => element("th", { scope: "col" }, [h])))]),
      element("tbody", {}, rows.map((row) => element("tr", {}, row.map((cell) => element("td", {}, [cell]))))),
    ]);
  }

  function showError(text) {
    const box = view.querySelector(".view-error");
    box.textContent = text;
    box.hidden = !text;
  }

  function setPosition(n, total) {
    view.querySelector(".view-position").textContent = message("position", { n, total });
    view.querySelector("[data-move=back]").disabled = n <= 1;
    view.querySelector("[data-move=forward]").disabled = n >= total;
  }

  // Backpropagation: the stages of one step, each a table of real numbers.
  function drawBackprop(data, body, { fmt }) {
    const layers = data.zs.length;
    const sub = (l) => String(l).replace(/\d/g, (d) => "₀₁₂₃₄₅₆₇₈₉"[d]);
    const point = (i) => `${message("point")} ${i + 1}`;
    const perPoint = (matrix, name) => [
      [message("point"), ...matrix[0].map((_, j) => `${name}${sub(j + 1)}`)],
      matrix.map((row, i) => [point(i), ...row.map(fmt)]),
    ];
    const stages = [];
    stages.push(() => {
      const blocks = [element("p", { class: "view-stage" }, [message("forward_pass")])];
      const inputs = perPoint(data.x, "x");
      blocks.push(table([...inputs[0], "y"], inputs[1].map((row, i) => [...row, fmt(data.y[i][0])])));
      for (let l = 0; l < layers; l += 1) {
        const zs = perPoint(data.zs[l], `z${sub(l + 1)},`);
        const as = perPoint(data.activations[l], `a${sub(l + 1)},`);
        blocks.push(table([...zs[0], ...as[0].slice(1)], zs[1].map((row, i) => [...row, ...as[1][i].slice(1)])));
      }
      return blocks;
    });
    stages.push(() => {
      const output = data.activations[layers - 1];
      const rows = output.map((row, i) => [point(i), fmt(row[0]), fmt(data.y[i][0]), fmt(row[0] - data.y[i][0])]);
      return [element("p", { class: "view-stage" }, [message("error")]),
        table([message("point"), "ŷ", "y", "ŷ − y"], rows),
        element("p", {}, [`J = ${fmt(data.loss)} (${data.loss_name})`])];
    });
    for (let l = layers - 1; l >= 0; l -= 1) {
      stages.push(() => {
        const title = l === layers - 1 ? message("delta_output") : message("delta_hidden", { layer: l + 1 });
        const deltas = perPoint(data.deltas[l], "δ");
        return [element("p", { class: "view-stage" }, [title]), table(...deltas)];
      });
    }
    stages.push(() => {
      const rows = [];
      data.weights.forEach((w, l) => w.forEach((row, i) => row.forEach((value, j) => rows.push(
        [`w${sub(l + 1)}(${i + 1}→${j + 1})`, fmt(value), fmt(data.grad_weights[l][i][j]), fmt(data.new_weights[l][i][j])]))));
      data.biases.forEach((b, l) => b.forEach((value, j) => rows.push(
        [`b${sub(l + 1)}(${j + 1})`, fmt(value), fmt(data.grad_biases[l][j]), fmt(data.new_biases[l][j])])));
      return [element("p", { class: "view-stage" }, [message("update", { lr: fmt(data.lr) })]),
        table([message("weight"), message("value"), message("gradient"), message("new_value")], rows),
        element("p", { class: "view-result" }, [message("loss_change", { before: fmt(data.loss), after: fmt(data.loss_after) })])];
    });
    let at = 0;
    const show = () => {
      body.replaceChildren(...stages[at]());
      setPosition(at + 1, stages.length);
    };
    move = (how) => { at = Math.max(0, Math.min(stages.length - 1, at + (how === "back" ? -1 : 1))); show(); };
    show();
  }

  // The perceptron: the points, the line before and after each update, the step and the rule.
  function lineThrough(w, b) {
    const [w1, w2] = w;
    const half = playgroundState().halfSide; // the input square's half side, as the server says
    const xs = [-half, half];
    if (w1 === 0 && w2 === 0) return null;
    if (Math.abs(w2) >= Math.abs(w1)) return { x: xs, y: xs.map((x1) => -(w1 * x1 + b) / w2) };
    return { x: xs.map((x2) => -(w2 * x2 + b) / w1), y: xs };
  }

  function drawPerceptron(data, body, { fmt, colours }) {
    const half = playgroundState().halfSide;
    const steps = data.steps;
    const points = element("div", { class: "chart view-chart" });
    const stepChart = element("div", { class: "chart view-chart small" });
    const rule = element("div", { class: "view-rule" });
    body.replaceChildren(element("div", { class: "view-charts" }, [points, stepChart]), rule);
    let at = 0;
    const vector = (v) => `(${v.map(fmt).join("; ")})`;
    const show = () => {
      const step = steps[at];
      const before = at === 0 ? data.start : steps[at - 1];
      const seen = steps.slice(0, at + 1);
      const traces = [0, 1].map((label) => ({
        type: "scatter", mode: "markers", hoverinfo: "skip", showlegend: false,
        x: seen.filter((s) => s.y === label).map((s) => s.x[0]),
        y: seen.filter((s) => s.y === label).map((s) => s.x[1]),
        marker: { color: label ? colours.positive : colours.negative, size: 6, opacity: 0.6 },
      }));
      traces.push({ type: "scatter", mode: "markers", hoverinfo: "skip", showlegend: false, x: [step.x[0]], y: [step.x[1]],
        marker: { color: step.y ? colours.positive : colours.negative, size: 14, line: { color: "#000", width: 2 } } });
      for (const [state, dash] of [[before, "dash"], [step, "solid"]]) {
        const line = lineThrough(state.w, state.b);
        if (line) traces.push({ type: "scatter", mode: "lines", hoverinfo: "skip", showlegend: false, ...line, line: { color: "#333", dash } });
      }
      window.Plotly.react(points, traces, {
        margin: { l: 30, r: 10, t: 10, b: 30 }, xaxis: { range: [-half, half], title: { text: "x₁" } },
        yaxis: { range: [-half, half], title: { text: "x₂" }, scaleanchor: "x" },
      }, { displayModeBar: false, responsive: true });
      window.Plotly.react(stepChart, [
        { type: "scatter", mode: "lines", hoverinfo: "skip", showlegend: false, x: [-3, 0, 0, 3], y: [0, 0, 1, 1], line: { color: "#0072B2" } },
        { type: "scatter", mode: "markers", hoverinfo: "skip", showlegend: false, x: [Math.max(-3, Math.min(3, step.z))], y: [step.prediction],
          marker: { color: "#000", size: 10 } },
      ], { title: { text: "ŷ = step(z)", font: { size: 13 } }, margin: { l: 30, r: 10, t: 30, b: 30 }, xaxis: { title: { text: "z" } },
        yaxis: { range: [-0.1, 1.1] } },
      { displayModeBar: false, responsive: true });
      const error = step.y - step.prediction;
      rule.replaceChildren(
        element("p", {}, [`x = ${vector(step.x)}, y = ${fmt(step.y)}, z = w·x + b = ${fmt(step.z)}, ŷ = ${fmt(step.prediction)}`]),
        element("p", { class: error ? "view-result wrong" : "view-result" }, [error ? message("wrong", { error: fmt(error) }) : message("correct")]),
        element("p", { class: "view-formula" }, [
          `${message("rule")}: ${vector(before.w)} + ${fmt(data.lr)}·${fmt(error)}·${vector(step.x)} = ${vector(step.w)}`]),
        element("p", { class: "view-formula" }, [
          `b ← b + α·(y − ŷ): ${fmt(before.b)} + ${fmt(data.lr)}·${fmt(error)} = ${fmt(step.b)}`]),
      );
      if (!lineThrough(step.w, step.b)) rule.append(element("p", {}, [message("no_line")]));
      setPosition(at + 1, steps.length);
    };
    move = (how) => {
      if (how === "mistake") {
        const next = steps.findIndex((s, i) => i > at && s.y !== s.prediction);
        at = next === -1 ? steps.length - 1 : next;
      } else {
        at = Math.max(0, Math.min(steps.length - 1, at + (how === "back" ? -1 : 1)));
      }
      show();
    };
    show();
  }

  function drawCostSurface(data, body, { fmt }) {
    const chart = element("div", { class: "chart view-chart wide" });
    body.replaceChildren(chart, element("p", { class: "view-result" }, [
      message("evaluations", { evaluations: data.evaluations.toLocaleString(document.documentElement.lang), steps: data.steps })]));
    const marker = (name, [x, y], symbol, color) => ({ type: "scatter", mode: "markers", name, x: [x], y: [y],
      marker: { symbol, size: 13, color, line: { color: "#fff", width: 1 } } });
    window.Plotly.react(chart, [
      { type: "contour", x: data.w1, y: data.w2, z: data.cost, colorscale: "Viridis", reversescale: true,
        contours: { coloring: "heatmap" }, colorbar: { title: { text: "J" } }, hovertemplate: "w₁ %{x}<br>w₂ %{y}<br>J %{z}<extra></extra>" },
      { type: "scatter", mode: "lines+markers", name: message("path"), x: data.path.map((p) => p[0]), y: data.path.map((p) => p[1]),
        line: { color: "#fff" }, marker: { size: 4, color: "#fff" } },
      marker(message("best"), data.best, "square", "#E69F00"),
      marker(`${message("learned")} (${data.learned.map(fmt).join("; ")})`, data.learned, "circle", "#D55E00"),
      marker(`${message("true_weights")} (${data.true.map(fmt).join("; ")})`, data.true, "star", "#000"),
    ], { margin: { l: 45, r: 10, t: 10, b: 40 }, xaxis: { title: { text: "w₁" } }, yaxis: { title: { text: "w₂" } },
      legend: { orientation: "h", y: -0.2 } }, { displayModeBar: false, responsive: true });
  }

  function drawStandardize(data, body, { fmt }) {
    const ranges = element("div", { class: "chart view-chart" });
    const losses = element("div", { class: "chart view-chart" });
    body.replaceChildren(element("div", { class: "view-charts" }, [ranges, losses]));
    const runs = [["none", message("raw"), "#E69F00"], ["standardize", message("standardized"), "#0072B2"]];
    window.Plotly.react(ranges, runs.map(([key, name, color]) => ({
      type: "bar", orientation: "h", name, marker: { color },
      y: data.labels,
      base: data.runs[key].ranges.map((r) => r[0]), x: data.runs[key].ranges.map((r) => r[1] - r[0]),
      hovertemplate: "%{base} … %{x}<extra></extra>",
    })), { barmode: "group", title: { text: message("ranges"), font: { size: 13 } }, margin: { l: 60, r: 10, t: 30, b: 30 },
      legend: { orientation: "h", y: -0.15 } }, { displayModeBar: false, responsive: true });
    // A run that diverges leaves the chart upwards: the axis spans the lowest loss and the starts.
    const lowest = Math.min(...runs.flatMap(([key]) => data.runs[key].loss));
    const highestStart = Math.max(...runs.map(([key]) => data.runs[key].loss[0]));
    const logRange = [Math.log10(lowest) - 0.5, Math.log10(highestStart) + 0.5];
    window.Plotly.react(losses, runs.map(([key, name, color]) => {
      const run = data.runs[key];
      const label = run.diverged ? `${name}: ${message("diverged", { epoch: run.diverged })}` : name;
      return { type: "scatter", mode: "lines+markers", name: label, line: { color }, marker: { size: 4 },
        x: run.loss.map((_, epoch) => epoch), y: run.loss };
    }), { title: { text: `${message("train_loss")} (α = ${fmt(data.lr)})`, font: { size: 13 } }, margin: { l: 50, r: 10, t: 30, b: 40 },
      xaxis: { title: { text: message("epoch") }, range: [0, data.epochs] }, yaxis: { type: "log", exponentformat: "power", range: logRange },
      legend: { orientation: "h", y: -0.25 } }, { displayModeBar: false, responsive: true });
  }

  const DRAW = { backprop: drawBackprop, perceptron: drawPerceptron, cost_surface: drawCostSurface, standardize: drawStandardize };

  async function drawView() {
    const state = playgroundState();
    if (state.query === lastQuery) return; // a change that does not concern the view
    lastQuery = state.query;
    const body = view.querySelector(".view-body");
    try {
      const response = await fetch(`${view.dataset.src}?${state.query}&lang=${state.lang}`);
      const payload = await response.json();
      if (!response.ok) {
        body.replaceChildren();
        showError(payload.detail.map((d) => d.message).join(" "));
        return;
      }
      showError("");
      DRAW[view.dataset.view](payload, body, { fmt: formatter(state.lang), colours: state.colours });
    } catch (error) {
      showError(state.messages.server_error);
    }
  }

  function start() {
    keepLesson();
    if (view) drawView();
  }

  if (view) {
    view.querySelectorAll("[data-move]").forEach((button) => button.addEventListener("click", () => move(button.dataset.move)));
  }
  // Registered after playground.js's own htmx.onLoad (this script comes later), so this runs
  // after playground.js has pointed the address at the playground's page, on the first page
  // (HTMX fires it after DOMContentLoaded) and after every swap of the playground.
  htmx.onLoad((element) => { if (element === document.body || element.id === "playground") start(); });
  // The server answers a change with HX-Replace-Url "/?<query>": point it at the lesson instead.
  document.body.addEventListener("htmx:beforeHistoryUpdate", (event) => {
    event.detail.history.path = lessonUrl();
  });
})();
