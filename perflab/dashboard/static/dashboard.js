// perflab dashboard: the runs list and a run page (graph, live progress, summary, timeline, CDF).
// Plain browser JavaScript, no libraries, no network beyond the API it is served by.
"use strict";

const API = "/health/performance";
const TERMINAL = new Set(["SUCCEEDED", "COMPLETED_WITH_FAILURES", "FAILED", "TIMED_OUT", "ABORTED"]);
const POLL_MS = 1000;
const SVG_NS = "http://www.w3.org/2000/svg";
let timer = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || body.message || `${response.status} ${path}`);
  return body;
}

// Numbers are shown with one decimal (thousands separated); the tests read them back.
function fmt(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (typeof value !== "number") return String(value);
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function statusBadge(status) {
  return el("span", { class: `status status-${status || "UNKNOWN"}`, "data-status": status || "" }, status || "?");
}

function when(epoch) {
  return typeof epoch === "number" ? new Date(epoch * 1000).toISOString().replace("T", " ").slice(0, 19) + "Z" : "—";
}

function setBusy(busy) {
  document.body.dataset.ready = busy ? "0" : "1";
}

// --- runs list ---------------------------------------------------------------------------------------

async function showRuns(main) {
  const { runs } = await getJson(`${API}/runs?limit=50`);
  const rows = runs.map((run) => {
    const s = run.summary || {};
    const lat = s.latency_ms || {};
    return el(
      "tr",
      { "data-run": run.run_id },
      el("td", {}, el("a", { href: `#/runs/${encodeURIComponent(run.run_id)}` }, run.run_id)),
      el("td", {}, `${run.compute || "?"}-${run.storage || "?"}`),
      el("td", { class: "num" }, run.invocations_requested ?? "—"),
      el("td", {}, statusBadge(run.status)),
      el("td", {}, when(run.started_at)),
      el("td", { class: "num" }, fmt(lat.median)),
      el("td", { class: "num" }, fmt(lat.p99)),
      el("td", { class: "num" }, fmt(s.throughput_mb_s)),
    );
  });
  const head = el(
    "tr",
    {},
    ...["run", "configuration", "invocations", "status", "started (UTC)", "median ms", "p99 ms", "MB/s"].map((h) =>
      el("th", {}, h),
    ),
  );
  main.replaceChildren(
    el("h1", {}, "Runs"),
    el(
      "div",
      { class: "card" },
      runs.length ? el("table", { id: "runs" }, el("thead", {}, head), el("tbody", {}, ...rows)) : el("p", { class: "muted" }, "No runs yet: start one with POST /health/performance/workload or perflab bench."),
    ),
  );
  setBusy(false);
  timer = setTimeout(() => route(), 5000);
}

// --- run page ----------------------------------------------------------------------------------------

function progressBar(counts) {
  const total = counts.total || 0;
  const part = (n, cls) => el("div", { class: cls, style: `width:${total ? (100 * n) / total : 0}%` });
  const done = (counts.succeeded || 0) + (counts.failed || 0) + (counts.timedOut || 0) + (counts.aborted || 0);
  return el(
    "div",
    {},
    el("div", { class: "progress" }, part(counts.succeeded || 0, "ok"), part((counts.failed || 0) + (counts.timedOut || 0) + (counts.aborted || 0), "bad"), part(counts.running || 0, "run")),
    el(
      "p",
      { class: "muted", id: "map-counts", "data-done": done, "data-total": total },
      `${done} / ${total} items done: ${counts.succeeded || 0} succeeded, ${counts.failed || 0} failed, ` +
        `${counts.running || 0} running, ${counts.pending || 0} pending`,
    ),
  );
}

function highlight(graph, progress) {
  if (!graph) return;
  const current = new Set(progress.current || []);
  const failed = new Set(progress.failed || []);
  const done = new Set((progress.states || []).filter((s) => s.exited_at !== null).map((s) => s.name));
  for (const node of graph.querySelectorAll("g.state:not([data-parent])")) {
    const name = node.getAttribute("data-state");
    node.classList.toggle("current", current.has(name));
    node.classList.toggle("failed", failed.has(name));
    node.classList.toggle("done", done.has(name) && !failed.has(name) && !current.has(name));
  }
  for (const mapRun of progress.map_runs || []) {
    if (!mapRun.state) continue;
    const label = graph.querySelector(`text.map-counts[data-map="${CSS.escape(mapRun.state)}"]`);
    const c = mapRun.item_counts || {};
    if (label) label.textContent = `${c.succeeded || 0} ok · ${c.failed || 0} failed · ${c.running || 0} running · ${c.pending || 0} pending / ${c.total || 0}`;
  }
}

const SUMMARY_ROWS = [
  ["invocations requested", (s) => s.invocations?.requested, 0],
  ["invocations succeeded", (s) => s.invocations?.succeeded, 0],
  ["invocations failed", (s) => s.invocations?.failed, 0],
  ["cold starts", (s) => s.cold_starts, 0],
  ["wall time (s)", (s) => s.wall_s, 2],
  ["throughput (MB/s)", (s) => s.throughput_mb_s, 1],
  ["latency mean (ms)", (s) => s.latency_ms?.mean, 1],
  ["latency median (ms)", (s) => s.latency_ms?.median, 1],
  ["latency p90 (ms)", (s) => s.latency_ms?.p90, 1],
  ["latency p95 (ms)", (s) => s.latency_ms?.p95, 1],
  ["latency p99 (ms)", (s) => s.latency_ms?.p99, 1],
  ["latency max (ms)", (s) => s.latency_ms?.max, 1],
  ["time to first byte median (ms)", (s) => s.ttfb_ms?.median, 1],
  ["time to first byte p99 (ms)", (s) => s.ttfb_ms?.p99, 1],
  ["scheduling delay median (ms)", (s) => s.scheduling_delay_ms?.median, 1],
  ["scheduling delay p99 (ms)", (s) => s.scheduling_delay_ms?.p99, 1],
  ["cold start penalty mean (ms)", (s) => s.cold_start_penalty_ms, 1],
];

// Keys the test compares with the API's summary (dotted paths into it).
const SUMMARY_KEYS = [
  "invocations.requested", "invocations.succeeded", "invocations.failed", "cold_starts", "wall_s",
  "throughput_mb_s", "latency_ms.mean", "latency_ms.median", "latency_ms.p90", "latency_ms.p95",
  "latency_ms.p99", "latency_ms.max", "ttfb_ms.median", "ttfb_ms.p99", "scheduling_delay_ms.median",
  "scheduling_delay_ms.p99", "cold_start_penalty_ms",
];

function summaryTable(summary) {
  const rows = SUMMARY_ROWS.map(([label, pick, digits], i) =>
    el("tr", {}, el("td", {}, label), el("td", { class: "num", "data-metric": SUMMARY_KEYS[i], "data-digits": digits }, fmt(pick(summary), digits))),
  );
  const errors = Object.entries(summary.errors_by_type || {});
  for (const [type, count] of errors) {
    rows.push(el("tr", {}, el("td", { class: "error" }, `failed: ${type}`), el("td", { class: "num", "data-error": type }, fmt(count, 0))));
  }
  return el("table", { id: "summary" }, el("tbody", {}, ...rows));
}

function axes(root, x0, y0, w, h, xMax, yMax, xLabel, yLabel, yTicks = 5, yFormat = (v) => fmt(v, 0)) {
  for (let i = 0; i <= yTicks; i++) {
    const y = y0 + h - (h * i) / yTicks;
    root.append(svg("line", { class: "gridline", x1: x0, x2: x0 + w, y1: y, y2: y }));
    root.append(svg("text", { x: x0 - 6, y: y + 4, "text-anchor": "end" }, yFormat((yMax * i) / yTicks)));
  }
  for (let i = 0; i <= 5; i++) {
    const x = x0 + (w * i) / 5;
    root.append(svg("text", { x, y: y0 + h + 16, "text-anchor": "middle" }, fmt((xMax * i) / 5, xMax < 10 ? 1 : 0)));
  }
  root.append(svg("line", { class: "axis", x1: x0, x2: x0 + w, y1: y0 + h, y2: y0 + h }));
  root.append(svg("line", { class: "axis", x1: x0, x2: x0, y1: y0, y2: y0 + h }));
  root.append(svg("text", { x: x0 + w / 2, y: y0 + h + 32, "text-anchor": "middle" }, xLabel));
  root.append(svg("text", { x: 12, y: y0 + h / 2, transform: `rotate(-90 12 ${y0 + h / 2})`, "text-anchor": "middle" }, yLabel));
}

// Gantt-style timeline: scheduled → started → first byte → done per invocation, cold starts marked.
function timelineChart(records) {
  const ok = records.filter((r) => typeof r.started_at === "number" && typeof r.finished_at === "number");
  const width = 640, rowH = Math.max(2, Math.min(8, 420 / Math.max(1, ok.length)));
  const x0 = 56, y0 = 10, w = width - x0 - 16, h = rowH * ok.length;
  const root = svg("svg", { class: "chart", id: "timeline", width, height: h + 60, viewBox: `0 0 ${width} ${h + 60}` });
  if (!ok.length) return root;
  const t0 = Math.min(...ok.map((r) => r.dispatched_at ?? r.started_at));
  const tMax = Math.max(...ok.map((r) => r.finished_at)) - t0;
  const sx = (t) => x0 + (w * (t - t0)) / (tMax || 1);
  ok.sort((a, b) => (a.dispatched_at ?? a.started_at) - (b.dispatched_at ?? b.started_at));
  axes(root, x0, y0, w, h, tMax, ok.length, "seconds since the first dispatch", "invocation", 4);
  ok.forEach((r, i) => {
    const y = y0 + i * rowH;
    const firstByte = typeof r.ttfb_ms === "number" ? r.started_at + r.ttfb_ms / 1000 : r.started_at;
    const group = svg("g", { class: "bar", "data-index": r.index, "data-cold": r.cold_start ? "1" : "0" });
    if (typeof r.dispatched_at === "number")
      group.append(svg("rect", { x: sx(r.dispatched_at), y, width: Math.max(0.5, sx(r.started_at) - sx(r.dispatched_at)), height: rowH - 0.5, fill: "#d4d9e2" }));
    group.append(svg("rect", { x: sx(r.started_at), y, width: Math.max(0.5, sx(firstByte) - sx(r.started_at)), height: rowH - 0.5, fill: "#f0b35a" }));
    group.append(svg("rect", { x: sx(firstByte), y, width: Math.max(0.5, sx(r.finished_at) - sx(firstByte)), height: rowH - 0.5, fill: r.error_type ? "#c23b3b" : "#2f6fdb" }));
    if (r.cold_start) group.append(svg("circle", { cx: sx(r.started_at) - 3, cy: y + rowH / 2, r: Math.max(1.5, rowH / 3), fill: "#7a4fd6" }));
    root.append(group);
  });
  return root;
}

function cdfChart(records) {
  const lat = records.filter((r) => !r.error_type && typeof r.latency_ms === "number").map((r) => r.latency_ms).sort((a, b) => a - b);
  const width = 640, height = 300, x0 = 56, y0 = 10, w = width - x0 - 16, h = height - 60;
  const root = svg("svg", { class: "chart", id: "cdf", width, height, viewBox: `0 0 ${width} ${height}` });
  if (!lat.length) return root;
  const xMax = lat[lat.length - 1];
  axes(root, x0, y0, w, h, xMax, 1, "latency (ms)", "fraction of invocations", 4, (v) => fmt(v, 2));
  // An empirical CDF: a step up of 1/n at each sample.
  const sx = (v) => x0 + (w * v) / xMax, sy = (f) => y0 + h - h * f;
  const points = [`${sx(lat[0])},${sy(0)}`];
  lat.forEach((v, i) => points.push(`${sx(v)},${sy(i / lat.length)}`, `${sx(v)},${sy((i + 1) / lat.length)}`));
  root.append(svg("polyline", { points: points.join(" "), fill: "none", stroke: "#2f6fdb", "stroke-width": 2, "data-samples": lat.length }));
  return root;
}

async function showRun(main, runId) {
  main.replaceChildren(el("h1", {}, "Run ", el("code", {}, runId)), el("p", { class: "muted" }, "loading…"));
  let progress;
  try {
    progress = await getJson(`${API}/runs/${encodeURIComponent(runId)}/progress?graph=1`);
  } catch (err) {
    main.replaceChildren(el("h1", {}, "Run ", el("code", {}, runId)), el("p", { class: "error", id: "load-error" }, String(err.message || err)));
    setBusy(false);
    return;
  }
  const statusSlot = el("span", { id: "run-status" });
  const progressSlot = el("div", { id: "progress" });
  const graphSlot = el("div", { class: "graph-wrap", id: "graph" });
  graphSlot.innerHTML = progress.graph_svg || "";
  const graph = graphSlot.querySelector("svg");
  const summarySlot = el("div", { id: "summary-slot" }, el("p", { class: "muted" }, "The summary appears when the run ends."));
  const timelineSlot = el("div", {});
  const cdfSlot = el("div", {});
  const config = progress.run ? `${progress.run.compute}-${progress.run.storage}, ${progress.run.invocations_requested} invocations` : "";
  main.replaceChildren(
    el("h1", {}, "Run ", el("code", {}, runId), " ", statusSlot),
    el("p", { class: "muted" }, config, " · ", el("span", { class: "muted" }, progress.execution_arn || "")),
    el("div", { class: "card" }, el("h2", {}, "Progress"), progressSlot),
    el(
      "div",
      { class: "grid" },
      el("div", { class: "card" }, el("h2", {}, "State machine"), graphSlot),
      el("div", { class: "card" }, el("h2", {}, "Summary"), summarySlot),
    ),
    el("div", { class: "grid" }, el("div", { class: "card" }, el("h2", {}, "Timeline"), el("p", { class: "legend" }, el("span", {}, el("i", { style: "background:#d4d9e2" }), "scheduled"), el("span", {}, el("i", { style: "background:#f0b35a" }), "to first byte"), el("span", {}, el("i", { style: "background:#2f6fdb" }), "download"), el("span", {}, el("i", { style: "background:#7a4fd6" }), "cold start"), el("span", {}, el("i", { style: "background:#c23b3b" }), "failed")), timelineSlot), el("div", { class: "card" }, el("h2", {}, "Latency CDF"), cdfSlot)),
  );

  const render = (p) => {
    statusSlot.replaceChildren(statusBadge(p.status));
    const counts = (p.map_runs && p.map_runs[0] && p.map_runs[0].item_counts) || {};
    progressSlot.replaceChildren(progressBar(counts), el("p", { class: "muted" }, `current: ${(p.current || []).join(", ") || "—"}`));
    highlight(graph, p);
  };
  render(progress);
  while (!TERMINAL.has(progress.status)) {
    await new Promise((resolve) => (timer = setTimeout(resolve, POLL_MS)));
    if (location.hash !== `#/runs/${encodeURIComponent(runId)}` && location.hash !== `#/runs/${runId}`) return;
    progress = await getJson(`${API}/runs/${encodeURIComponent(runId)}/progress`);
    render(progress);
  }
  const results = await getJson(`${API}/results/${encodeURIComponent(runId)}?invocations=1`);
  document.body.dataset.runStatus = results.status;
  statusSlot.replaceChildren(statusBadge(results.status));
  if (results.summary) summarySlot.replaceChildren(summaryTable(results.summary));
  else summarySlot.replaceChildren(el("p", { class: "error" }, `No summary: the run ended ${results.status}.`));
  const records = results.invocations || [];
  timelineSlot.replaceChildren(timelineChart(records));
  cdfSlot.replaceChildren(cdfChart(records));
  setBusy(false);
}

async function route() {
  clearTimeout(timer);
  setBusy(true);
  delete document.body.dataset.runStatus;
  const main = document.querySelector("main");
  const match = location.hash.match(/^#\/runs\/(.+)$/);
  try {
    if (match) await showRun(main, decodeURIComponent(match[1]));
    else await showRuns(main);
  } catch (err) {
    main.append(el("p", { class: "error", id: "load-error" }, String(err.message || err)));
    setBusy(false);
  }
}

window.addEventListener("hashchange", route);
route();
