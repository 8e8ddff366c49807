// The dashboard's exposure view: its style and script, spliced into dashboard.html where the
// page says <!-- exposure view --> (after the page's own script, whose helpers it uses: el,
// chip, familiar, runLink, getJSON, POLL_MS). It polls GET /api/exposure and shows, per stored
// advisory, the images and workloads carrying a vulnerable version, where each exposure
// enters (an external base, or a fleet image's own layers), the newest fix run, and the counts
// seen while the page is open: each image a fix run pushes is scanned before it is rolled
// out, so the counts fall as the run proceeds. Test hooks: #exposure div.advisory with
// data-advisory, data-images, data-workloads; its rows tr[data-subject][data-kind][data-enters];
// .trend[data-trail] (the image counts seen, oldest first).
namespace cascade::daemon {

extern const char* const kExposureView;
const char* const kExposureView = R"cascade_view(<style>
  #exposure-panel { grid-column: 1 / -1; }
  #exposure .advisory { border-top: 1px solid var(--line); padding: 10px 0; }
  #exposure .advisory:first-child { border-top: 0; padding-top: 0; }
  #exposure .head { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
  #exposure .summary { color: var(--muted); margin: 2px 0 6px; }
  #exposure .trend { font-size: 12px; color: var(--muted); margin-bottom: 6px; }
  #exposure .trend svg { vertical-align: middle; margin-right: 6px; }
  #exposure .trend polyline { fill: none; stroke: var(--failed); stroke-width: 1.5; }
  .chip[data-state=exposed] { background: var(--failed); color: #fff; }
  .chip[data-state=clear] { background: var(--pushed); color: #fff; }
</style>
<script>
"use strict";

const exposureTrail = new Map();  // advisory id -> [{images, workloads}] as polled, changes only

function recordExposure(entry) {
  const trail = exposureTrail.get(entry.id) ?? [];
  const last = trail[trail.length - 1];
  if (!last || last.images !== entry.images_exposed || last.workloads !== entry.workloads_exposed)
    trail.push({ images: entry.images_exposed, workloads: entry.workloads_exposed });
  if (trail.length > 60) trail.shift();
  exposureTrail.set(entry.id, trail);
  return trail;
}

function sparkline(values) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", "80");
  svg.setAttribute("height", "18");
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? 78 / (values.length - 1) : 0;
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", values.map((value, i) => `${1 + i * step},${17 - (16 * value) / max}`).join(" "));
  svg.append(line);
  return svg;
}

function exposureRow(row, kind) {
  return el("tr", { dataset: { subject: row.subject, kind, enters: row.enters } },
    el("td", {}, familiar(row.subject), el("div", { class: "muted" }, kind === "workload" ? "runs " : row.role,
      kind === "workload" ? familiar(row.image) : "")),
    el("td", {}, el("code", {}, `${row.package} ${row.version}`), el("div", { class: "muted" }, row.distro)),
    el("td", {}, row.fixed ? el("code", {}, row.fixed) : el("span", { class: "muted" }, "unknown")),
    el("td", {}, familiar(row.enters),
      el("div", { class: "muted" }, row.enters_role === "external" ? "external base" : "its own layers")));
}

function renderAdvisory(entry) {
  const trail = recordExposure(entry);
  const exposed = (count, noun) => chip(count ? "exposed" : "clear", `${count} ${noun}${count === 1 ? "" : "s"} exposed`);
  const rows = [...(entry.images ?? []).map((row) => exposureRow(row, "image")),
                ...(entry.workloads ?? []).map((row) => exposureRow(row, "workload"))];
  const head = ["subject", "package", "fixed in", "enters at"].map((name) => el("th", {}, name));
  return el("div", { class: "advisory", dataset: { advisory: entry.id, images: entry.images_exposed,
                                                   workloads: entry.workloads_exposed } },
    el("div", { class: "head" }, el("strong", {}, entry.id),
      (entry.aliases ?? []).length ? el("span", { class: "muted" }, entry.aliases.join(", ")) : "",
      exposed(entry.images_exposed, "image"), exposed(entry.workloads_exposed, "workload"),
      entry.run ? el("span", { class: "muted" }, "fix run ", runLink(entry.run.id), " ", chip(entry.run.state)) : ""),
    entry.summary ? el("div", { class: "summary" }, entry.summary) : "",
    el("div", { class: "trend", dataset: { trail: trail.map((point) => point.images).join(",") } },
      trail.length > 1 ? sparkline(trail.map((point) => point.images + point.workloads)) : "",
      `seen here: ${trail.map((point) => `${point.images} images / ${point.workloads} workloads`).join(" → ")}`),
    rows.length ? el("table", {}, el("thead", {}, el("tr", {}, head)), el("tbody", {}, rows))
                : el("p", { class: "empty" }, "nothing exposed"));
}

async function pollExposure() {
  const box = document.getElementById("exposure");
  const note = document.getElementById("exposure-checked");
  try {
    const view = await getJSON("/api/exposure");
    const advisories = view.advisories ?? [];
    box.replaceChildren(...(advisories.length ? advisories.map(renderAdvisory)
      : [el("p", { class: "empty" }, "no advisory stored (POST /api/advisories)")]));
    const checked = view.checked ?? {};
    note.textContent = `${checked.images ?? 0} images and ${checked.workloads ?? 0} workloads scanned` +
      ((view.skipped ?? []).length ? ` · unreadable: ${view.skipped.join("; ")}` : "");
    note.classList.toggle("error", (view.skipped ?? []).length > 0);
  } catch (error) {
    note.textContent = `exposure: ${error.message}`;
    note.classList.add("error");
  }
  setTimeout(pollExposure, POLL_MS);
}

pollExposure();
</script>)cascade_view";

}  // namespace cascade::daemon
