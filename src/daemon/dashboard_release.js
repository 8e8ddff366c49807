// The dashboard's release view. CMake puts this file into dashboard.html where it says
// dashboard_release.js, after the page's own script, whose helpers it uses (el, chip, emptyRow,
// familiar, shortDigest, formatTime, relative, toDate, runLink, getJSON, POLL_MS) and whose
// poll keeps view.runs (GET /api/runs) fresh.
//
// It lists every run awaiting its release (state "awaiting") with its blast radius (each held
// workload: target, image, from digest -> to digest, wave, state and what it waits for) and
// the decisions so far, and posts a person's decision: POST /api/runs/{id}/approve or /reject
// with the bearer token typed into #token. The token is kept in sessionStorage (this tab only),
// never in localStorage, a URL, an attribute or the console; there is no <form>, so nothing
// can submit it as a query string. A run decided here stays shown until it has finished, and a
// minute after, so the decision's effect can be watched. Everything from the API goes into the
// DOM as text (el), never as markup.
"use strict";

const TOKEN_KEY = "cascade.token";
const FINAL_RUN_STATES = new Set(["succeeded", "failed", "interrupted"]);
const KEEP_DECIDED_MS = 60 * 1000;

const releaseView = {
  blocks: new Map(),   // run id -> the block showing it (its form elements persist across polls)
  decided: new Map(),  // run id -> when a decision was made here (Date.now())
};

// ---- the token ------------------------------------------------------------------------

const tokenInput = () => document.getElementById("token");

function storedToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) ?? ""; } catch { return ""; }
}

function keepToken(value) {
  const token = value.trim();
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage refused (private mode): the field still holds it */ }
}

// ---- rendering --------------------------------------------------------------------------

// A detail naming a time ("... it opens 2026-12-07T09:00:00+01:00") gets how far off it is.
function withRelative(detail) {
  const text = detail ?? "";
  const stamp = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})/.exec(text);
  return stamp && toDate(stamp[0]) ? `${text} (${relative(stamp[0])})` : text;
}

function releaseRow(release) {
  return el("tr", { dataset: { release: release.id, target: release.target, workload: release.workload,
                               state: release.state, from: release.from_digest ?? "", to: release.to_digest ?? "" } },
    el("td", {}, el("strong", {}, release.target), el("div", {}, release.workload)),
    el("td", {}, familiar(release.image)),
    el("td", { class: "digests" },
      release.from_digest ? shortDigest(release.from_digest) : el("span", { class: "muted" }, "none"),
      " → ", shortDigest(release.to_digest)),
    el("td", {}, release.wave ?? "", release.policy ? el("div", { class: "muted" }, `policy ${release.policy}`) : ""),
    el("td", {}, chip(release.state)),
    el("td", { class: "muted" }, withRelative(release.detail)));
}

function decisionItem(approval) {
  return el("li", { dataset: { actor: approval.actor, decision: approval.decision } },
    chip(approval.decision), " by ", el("strong", {}, approval.actor),
    approval.target ? ` for ${approval.target}` : " for the whole run",
    approval.urgent ? [" ", chip("urgent")] : "",
    el("span", { title: approval.at ?? "" }, ` at ${formatTime(approval.at)}`),
    approval.comment ? el("span", { class: "muted" }, ` — ${approval.comment}`) : "");
}

function waitingFor(run) {
  const releases = run.releases ?? [];
  const held = releases.filter((release) => release.state === "held").length;
  return `${held} of ${releases.length} workload${releases.length === 1 ? "" : "s"} held`;
}

function makeBlock(id) {
  const button = (action, text) => el("button", { type: "button", id: `${action}-${id}`, class: action,
                                                  onclick: () => decide(id, action) }, text);
  const block = {
    head: el("div", { class: "head" }),
    body: el("tbody"),
    decisions: el("ul", { class: "decisions" }),
    target: el("select", { id: `target-${id}`, title: "decide for one target, or for the whole run" }),
    comment: el("input", { type: "text", id: `comment-${id}`, placeholder: "comment (optional)", maxlength: 500 }),
    approve: button("approve", "Approve"),
    reject: button("reject", "Reject"),
    outcome: el("span", { id: `decided-${id}`, class: "outcome", role: "status" }),
    targets: null,  // the target options last offered, joined
    state: null,    // the run's state as last polled
    busy: false,    // a decision is being posted
  };
  const head = ["target / workload", "image", "from → to", "wave", "state", "detail"].map((name) => el("th", {}, name));
  block.root = el("div", { class: "release", dataset: { run: id } }, block.head,
    el("table", {}, el("thead", {}, el("tr", {}, head)), block.body), block.decisions,
    el("div", { class: "decide" }, block.target, block.comment, block.approve, block.reject, block.outcome));
  return block;
}

// The target choices: the whole run, or one of its releases' targets (the choice is kept).
function offerTargets(block, releases) {
  const targets = [...new Set(releases.map((release) => release.target))].sort();
  const key = targets.join("\n");
  if (block.targets === key) return;
  const chosen = block.target.value;
  block.target.replaceChildren(el("option", { value: "" }, "all targets"),
    ...targets.map((target) => el("option", { value: target }, target)));
  block.target.value = targets.includes(chosen) ? chosen : "";
  block.targets = key;
}

function updateBlock(block, run) {
  const trigger = run.trigger ?? {};
  block.root.dataset.state = run.state;
  block.head.replaceChildren(el("strong", {}, "Run ", runLink(run.id)), chip(run.state),
    trigger.urgent ? chip("urgent") : "",
    el("span", { class: "muted" }, `${trigger.kind ?? ""} `, trigger.image ? familiar(trigger.image) : ""),
    el("span", { class: "muted" }, `· ${waitingFor(run)}`));
  const releases = run.releases ?? [];
  block.body.replaceChildren(...(releases.length ? releases.map(releaseRow) : [emptyRow(6, "no releases")]));
  const approvals = run.approvals ?? [];
  block.decisions.replaceChildren(...(approvals.length ? approvals.map(decisionItem)
                                                       : [el("li", { class: "empty" }, "no decision yet")]));
  offerTargets(block, releases);
  block.state = run.state;
  enableButtons(block);
}

// Decisions are open while the run awaits and none is being posted from here.
function enableButtons(block) {
  const open = block.state === "awaiting" && !block.busy;
  block.approve.disabled = !open;
  block.reject.disabled = !open;
}

function renderReleases(runs) {
  for (const id of [...releaseView.blocks.keys()])
    if (!runs.some((run) => run.id === id)) releaseView.blocks.delete(id);
  const roots = runs.map((run) => {
    let block = releaseView.blocks.get(run.id);
    if (!block) releaseView.blocks.set(run.id, block = makeBlock(run.id));
    updateBlock(block, run);
    return block.root;
  });
  const box = document.getElementById("releases");
  if (!roots.length) {
    if (!box.querySelector(":scope > p.empty[data-none]"))
      box.replaceChildren(el("p", { class: "empty", dataset: { none: "" } }, "no run awaits a decision"));
    return;
  }
  // Re-attaching a block would take the focus from its comment field: only when the list changed.
  const current = [...box.children];
  if (current.length !== roots.length || current.some((node, i) => node !== roots[i])) box.replaceChildren(...roots);
}

// ---- polling ----------------------------------------------------------------------------

// The runs to show: every run awaiting (view.runs, the page's poll), and the ones decided here.
function runIdsToShow() {
  const ids = new Set(view.runs.filter((run) => run.state === "awaiting").map((run) => run.id));
  for (const id of releaseView.decided.keys()) ids.add(id);
  return [...ids].sort((a, b) => b - a);
}

function stillShown(run) {
  if (run.state === "awaiting") return true;
  const at = releaseView.decided.get(run.id);
  if (at === undefined) return false;
  if (FINAL_RUN_STATES.has(run.state) && Date.now() - at > KEEP_DECIDED_MS) {
    releaseView.decided.delete(run.id);
    return false;
  }
  return true;
}

async function pollReleases() {
  const note = document.getElementById("releases-note");
  const problems = [];
  try {
    const runs = await Promise.all(runIdsToShow().map((id) =>
      getJSON(`/api/runs/${id}`).catch((error) => { problems.push(error.message); return null; })));
    renderReleases(runs.filter((run) => run !== null && stillShown(run)));
  } catch (error) {
    problems.push(String(error));
  }
  note.textContent = problems.join("; ");
  note.classList.toggle("error", problems.length > 0);
  setTimeout(pollReleases, POLL_MS);
}

// ---- deciding ---------------------------------------------------------------------------

function showOutcome(block, outcome, text) {
  block.outcome.dataset.outcome = outcome;
  block.outcome.textContent = text;
}

async function decide(id, action) {
  const block = releaseView.blocks.get(id);
  if (!block || block.busy) return;
  const token = tokenInput().value.trim();
  if (!token) return showOutcome(block, "error", "enter a bearer token first (the API token or an approver's)");
  keepToken(token);
  const body = {};
  if (block.comment.value.trim()) body.comment = block.comment.value.trim();
  if (block.target.value) body.target = block.target.value;
  block.busy = true;
  enableButtons(block);
  showOutcome(block, "pending", action === "approve" ? "approving…" : "rejecting…");
  try {
    const response = await fetch(`/api/runs/${id}/${action}`, {
      method: "POST",
      cache: "no-store",
      credentials: "omit",
      headers: { "Content-Type": "application/json", "Authorization": `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    let answer = {};
    try { answer = await response.json(); } catch { /* not JSON */ }
    if (response.ok) {
      releaseView.decided.set(id, Date.now());
      block.comment.value = "";
      const scope = answer.target ? ` for ${answer.target}` : "";
      showOutcome(block, answer.decision ?? action,
        `${answer.decision ?? action} by ${answer.actor ?? "?"}${scope}${answer.urgent ? " (urgent)" : ""}` +
        ` at ${formatTime(new Date().toISOString())}`);
    } else {
      showOutcome(block, "error", `${response.status}: ${answer.error ?? response.statusText}`);
    }
  } catch (error) {
    showOutcome(block, "error", `the daemon could not be reached: ${error.message}`);
  } finally {
    block.busy = false;
    enableButtons(block);  // open again at once (to retry after an error); the polls close them once the run moves on
  }
}

tokenInput().value = storedToken();
tokenInput().addEventListener("input", (event) => keepToken(event.target.value));
pollReleases();
