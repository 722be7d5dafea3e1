// Stancemap viewer: the party × issue matrix as of a date, and what changed since an earlier moment.
// It reads only the public JSON API (v1/matrix, v1/diff, v1/sources, v1/changes), with paths
// relative to the page, so the viewer works wherever the API is served. Today's matrix follows the
// change feed live: each change of a position replaces its cell in place.

import {
  $, STANCES, STANCE_LABEL, clearError as clearAlert, clearGrid, day, el, evidenceText, getJSON, key, listAll, loader,
  markCurrent, moveFocus, plural, positionBlock, reveal, showError as showAlert, wireDate,
} from "./common.js";

const CHANGES = [
  ["new", "a position where there was none"],
  ["withdrawn", "the position no longer stands"],
  ["shifted", "moved without crossing sides, or to or from neutral or unclear"],
  ["reversed", "crossed between the support and oppose sides"],
];
const CHANGED = new Set(CHANGES.map(([value]) => value));
// How long a cell changed by the live feed stays highlighted.
const HIGHLIGHT_MS = 4000;

const ui = {
  asOf: $("#as-of"),
  today: $("#as-of-today"),
  diffToggle: $("#diff-toggle"),
  diffFrom: $("#diff-from"),
  fromMoment: $("#from-moment"),
  fromDate: $("#from-date"),
  error: $("#error"),
  status: $("#status"),
  table: $("#matrix"),
  caption: $("#matrix-caption"),
  stanceLegend: $("#stance-legend"),
  changeLegend: $("#change-legend"),
  detail: $("#detail"),
  detailTitle: $("#detail-title"),
  detailBody: $("#detail-body"),
  detailClose: $("#detail-close"),
  liveStatus: $("#live-status"),
};

const state = {
  matrix: null,
  diff: null,
  sources: new Map(), // id -> source summary
  selected: null, // {party, issue}
  controller: null,
  live: null, // the EventSource following the change feed, while today's matrix is shown
};

// --- API ---------------------------------------------------------------------------------------

async function loadSources() {
  const sources = await listAll("v1/sources");
  for (const source of sources) state.sources.set(source.id, source);
  // Most recent publication first: "what changed since the latest article" is the usual question.
  sources.sort((a, b) => String(b.published_at).localeCompare(String(a.published_at)) || b.id - a.id);
  for (const source of sources) {
    const title = source.title.length > 70 ? `${source.title.slice(0, 69)}…` : source.title;
    ui.fromMoment.append(
      el("option", { value: `source:${source.id}` }, `${source.kind} of ${day(source.published_at)}: ${title}`),
    );
  }
  return sources;
}

// --- errors and status -------------------------------------------------------------------------

const showError = (error) => showAlert(ui.error, error);
const clearError = () => clearAlert(ui.error);

// --- state <-> controls and URL ----------------------------------------------------------------

function fromMoment() {
  if (ui.fromMoment.value === "date") return ui.fromDate.value || null;
  return ui.fromMoment.value;
}

function readUrl() {
  const params = new URLSearchParams(window.location.search);
  if (params.get("as_of")) ui.asOf.value = params.get("as_of");
  ui.diffToggle.checked = params.get("diff") === "1" || params.has("from");
  const from = params.get("from");
  if (from && /^source:\d+$/.test(from)) {
    if (![...ui.fromMoment.options].some((option) => option.value === from)) {
      ui.fromMoment.append(el("option", { value: from }, from));
    }
    ui.fromMoment.value = from;
  } else if (from) {
    ui.fromMoment.value = "date";
    ui.fromDate.value = from;
  } else if (ui.fromMoment.options.length > 1) {
    ui.fromMoment.selectedIndex = 1; // the latest source
  }
}

function writeUrl() {
  const params = new URLSearchParams();
  if (ui.asOf.value) params.set("as_of", ui.asOf.value);
  if (ui.diffToggle.checked) {
    params.set("diff", "1");
    const from = fromMoment();
    if (from) params.set("from", from);
  }
  const query = params.toString();
  window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
}

function syncControls() {
  ui.diffFrom.hidden = !ui.diffToggle.checked;
  ui.changeLegend.hidden = !ui.diffToggle.checked;
}

// --- loading -----------------------------------------------------------------------------------

async function load() {
  state.controller?.abort();
  const controller = new AbortController();
  state.controller = controller;
  syncControls();
  writeUrl();
  clearError();
  document.body.dataset.state = "loading";
  ui.table.setAttribute("aria-busy", "true");

  const asOf = ui.asOf.value || null;
  const from = ui.diffToggle.checked ? fromMoment() : null;
  stopLive();
  // Only today's plain matrix follows the feed. The newest event id is read before the matrix: an
  // event committed in between is then sent again, and applying it twice changes nothing.
  const follow = !asOf && !ui.diffToggle.checked;
  const since = follow ? await latestEventId(controller.signal) : null;
  if (controller.signal.aborted) return;
  const requests = [getJSON("v1/matrix", { as_of: asOf }, controller.signal)];
  const waitingForFrom = ui.diffToggle.checked && !from;
  if (from) requests.push(getJSON("v1/diff", { from, to: asOf, only: "changed" }, controller.signal));
  const [matrix, diff] = await Promise.allSettled(requests);
  if (controller.signal.aborted) return; // a newer load owns the page now

  ui.table.removeAttribute("aria-busy");
  const failure = [matrix, diff].find((result) => result?.status === "rejected");
  state.matrix = matrix.status === "fulfilled" ? matrix.value : null;
  state.diff = diff?.status === "fulfilled" ? diff.value : null;
  render();
  if (waitingForFrom) ui.status.textContent = "Choose a source or a date to compare from.";
  if (failure) {
    showError(failure.reason);
    document.body.dataset.state = "error";
  } else {
    document.body.dataset.state = "ready";
    if (since !== null) startLive(since);
  }
}

// --- live updates ------------------------------------------------------------------------------

async function latestEventId(signal) {
  try {
    return (await getJSON("v1/changes", { limit: 1 }, signal)).last_id;
  } catch (error) {
    return null; // the matrix still shows; it only does not follow the feed
  }
}

function startLive(after) {
  const url = new URL("v1/changes", document.baseURI);
  url.searchParams.set("after", after);
  // The browser reconnects by itself, resuming after the last event id it received.
  const source = new EventSource(url);
  source.addEventListener("open", () => { document.body.dataset.live = "open"; });
  source.addEventListener("error", () => { document.body.dataset.live = "reconnecting"; });
  source.addEventListener("change", (message) => applyChange(JSON.parse(message.data)));
  state.live = source;
}

function stopLive() {
  state.live?.close();
  state.live = null;
  delete document.body.dataset.live;
}

function emptyCell(party, issue) {
  return {
    party, issue, stance: null, summary: null, stated_on: null, statement: null, quote: null, selector: null,
    speaker: null, source: null, evidence_count: 0, evidence_since: null, flag: null,
  };
}

/** Replaces the event's cell in the matrix shown, in place, and highlights it for a moment. */
function applyChange(event) {
  const { matrix } = state;
  const index = matrix?.cells.findIndex((cell) => cell.party === event.party && cell.issue === event.issue) ?? -1;
  const { party, issue } = matrix ? names(event.party, event.issue) : {};
  if (index < 0 || !party || !issue) return; // a party or issue added since the page loaded
  const cell = event.after || emptyCell(event.party, event.issue);
  matrix.cells[index] = cell;
  const button = cellButtonAt(event.party, event.issue);
  // Updated in place, not replaced: the button keeps the focus, its tab stop and aria-current.
  const fresh = cellButton(party, issue, cell, null);
  button.className = fresh.className;
  button.dataset.stance = fresh.dataset.stance;
  button.setAttribute("aria-label", fresh.getAttribute("aria-label"));
  button.replaceChildren(...fresh.childNodes);
  button.classList.add("updated");
  clearTimeout(button.updatedTimer);
  button.updatedTimer = setTimeout(() => button.classList.remove("updated"), HIGHLIGHT_MS);
  ui.status.textContent = matrixStatus(matrix);
  ui.liveStatus.textContent = `${party.name} on ${issue.title}: now ${STANCE_LABEL[cell.stance || "none"]} (${event.change}).`;
  if (state.selected?.party === event.party && state.selected?.issue === event.issue) {
    showDetail(event.party, event.issue, { focus: false });
  }
}

// --- rendering ---------------------------------------------------------------------------------

function describeEnd(end) {
  const source = end.source ? state.sources.get(end.source) : null;
  if (end.source) return `${source ? `“${source.title}”` : `source ${end.source}`} (${end.as_of})`;
  return end.as_of;
}

function render() {
  const { matrix, diff } = state;
  const thead = ui.table.tHead;
  const tbody = ui.table.tBodies[0];
  if (!matrix) {
    clearGrid(ui.table, "No positions to show.");
    ui.status.textContent = "";
    closeDetail();
    return;
  }
  const changes = new Map((diff?.changes || []).map((change) => [key(change.party, change.issue), change]));
  const cells = new Map(matrix.cells.map((cell) => [key(cell.party, cell.issue), cell]));

  ui.table.dataset.asOf = matrix.as_of;
  ui.table.dataset.mode = diff ? "diff" : "matrix";
  if (diff) ui.table.dataset.from = diff.from.as_of;
  else delete ui.table.dataset.from;
  ui.caption.textContent = diff
    ? `Positions as of ${matrix.as_of}, and what changed since ${describeEnd(diff.from)}`
    : `Positions as of ${matrix.as_of}`;

  thead.replaceChildren(
    el("tr", {},
      el("th", { scope: "col", class: "corner" }, el("span", { class: "visually-hidden" }, "Party"),
        el("span", { "aria-hidden": "true" }, "Party ╲ Issue")),
      matrix.issues.map((issue) =>
        el("th", { scope: "col", title: issue.proposition, dataset: { issue: issue.slug } }, issue.title)),
    ),
  );

  tbody.replaceChildren(
    ...matrix.parties.map((party) =>
      el("tr", { dataset: { party: party.slug } },
        el("th", { scope: "row", title: party.kind, dataset: { party: party.slug } }, party.name),
        matrix.issues.map((issue) => {
          const cell = cells.get(key(party.slug, issue.slug));
          const change = diff ? changes.get(key(party.slug, issue.slug))?.change || "unchanged" : null;
          return el("td", {}, cellButton(party, issue, cell, change));
        }),
      ),
    ),
  );

  if (diff) {
    const counts = CHANGES.map(([value]) => `${diff.summary[value]} ${value}`).join(", ");
    ui.status.textContent = `From ${describeEnd(diff.from)} to ${diff.to.as_of}: ${counts}; ${diff.summary.unchanged} unchanged.`;
  } else {
    ui.status.textContent = matrixStatus(matrix);
  }

  if (state.selected && cells.has(key(state.selected.party, state.selected.issue))) {
    showDetail(state.selected.party, state.selected.issue, { focus: false });
  } else {
    closeDetail();
  }
}

function matrixStatus(matrix) {
  const positions = matrix.cells.filter((cell) => cell.stance).length;
  return `${plural(matrix.parties.length, "party", "parties")} × ${plural(matrix.issues.length, "issue")} as of ${matrix.as_of}: ${plural(positions, "position")}.`;
}

function cellButton(party, issue, cell, change) {
  const stance = cell?.stance || "none";
  const changed = change && CHANGED.has(change);
  const label = `${party.name} on ${issue.title}: ${STANCE_LABEL[stance]}` +
    (cell?.evidence_count > 1 ? `, ${evidenceText(cell.evidence_count)}` : "") +
    (cell?.flag ? `, quote ${cell.flag.outcome} in a newer version of its source` : "") +
    (change ? (changed ? `, ${change}` : ", unchanged") : "");
  return el("button", {
    type: "button",
    class: `cell stance-${stance}`,
    "aria-label": label,
    "aria-controls": "detail",
    dataset: { party: party.slug, issue: issue.slug, stance, ...(change ? { change } : {}) },
  },
  el("span", { class: "cell-label" }, stance === "none" ? "—" : STANCE_LABEL[stance]),
  cell?.evidence_count > 1 ? el("span", { class: "cell-count", title: evidenceText(cell.evidence_count) }, `×${cell.evidence_count}`) : null,
  cell?.flag ? el("span", { class: "cell-flag", title: `Quote ${cell.flag.outcome}: needs an editor` }, "⚑") : null,
  changed ? el("span", { class: `badge change-${change}` }, change) : null,
  );
}

function renderLegends() {
  ui.stanceLegend.replaceChildren(
    ...STANCES.map(([value, label]) =>
      el("li", {}, el("span", { class: `swatch stance-${value}`, "aria-hidden": "true" }, value === "none" ? "—" : ""), label)),
  );
  ui.changeLegend.replaceChildren(
    ...CHANGES.map(([value, description]) =>
      el("li", {}, el("span", { class: `badge change-${value}` }, value), ` ${description}`)),
    el("li", {}, el("span", { class: "swatch dimmed-sample", "aria-hidden": "true" }), "dimmed: unchanged"),
  );
}

// --- detail panel ------------------------------------------------------------------------------

function names(partySlug, issueSlug) {
  const party = state.matrix.parties.find((item) => item.slug === partySlug);
  const issue = state.matrix.issues.find((item) => item.slug === issueSlug);
  return { party, issue };
}

function showDetail(partySlug, issueSlug, { focus = true } = {}) {
  const { party, issue } = names(partySlug, issueSlug);
  if (!party || !issue) return;
  state.selected = { party: partySlug, issue: issueSlug };
  const cell = state.matrix.cells.find((item) => item.party === partySlug && item.issue === issueSlug);
  const change = state.diff?.changes.find((item) => item.party === partySlug && item.issue === issueSlug);

  ui.detailTitle.textContent = `${party.name} on ${issue.title}`;
  const proposition = el("p", { class: "proposition" }, el("span", { class: "context-label" }, "Proposition: "), issue.proposition);
  if (change && CHANGED.has(change.change)) {
    const description = Object.fromEntries(CHANGES)[change.change];
    ui.detailBody.replaceChildren(
      proposition,
      el("p", { class: "change-line" }, el("span", { class: `badge change-${change.change}` }, change.change), ` ${description}`),
      el("div", { class: "compare", dataset: { change: change.change } },
        el("section", { class: "side before", dataset: { side: "before" } },
          el("h3", {}, "Before · as of ", describeEnd(state.diff.from)),
          positionBlock(change.before, party.name, state.diff.from.as_of)),
        el("section", { class: "side after", dataset: { side: "after" } },
          el("h3", {}, "After · as of ", describeEnd(state.diff.to)),
          positionBlock(change.after, party.name, state.diff.to.as_of)),
      ),
    );
  } else {
    ui.detailBody.replaceChildren(proposition, positionBlock(cell, party.name, state.matrix.as_of));
  }
  ui.detail.dataset.party = partySlug;
  ui.detail.dataset.issue = issueSlug;
  ui.detail.hidden = false;
  markCurrent(ui.table, "button.cell", (button) => button.dataset.party === partySlug && button.dataset.issue === issueSlug);
  if (focus) reveal(ui.detail, "nearest");
}

function closeDetail() {
  const selected = state.selected;
  state.selected = null;
  ui.detail.hidden = true;
  ui.detailBody.replaceChildren();
  markCurrent(ui.table, "button.cell");
  return selected;
}

function cellButtonAt(party, issue) {
  return ui.table.querySelector(`button.cell[data-party="${CSS.escape(party)}"][data-issue="${CSS.escape(issue)}"]`);
}

// --- wiring ------------------------------------------------------------------------------------

const loading = loader(load);

function wire() {
  wireDate({ input: ui.asOf, today: ui.today, form: $("#controls") }, loading);
  ui.diffToggle.addEventListener("change", loading.now);
  ui.fromMoment.addEventListener("change", loading.now);
  ui.fromDate.addEventListener("change", () => {
    ui.fromMoment.value = "date";
    loading.soon();
  });
  ui.table.addEventListener("click", (event) => {
    const button = event.target.closest("button.cell");
    if (button) showDetail(button.dataset.party, button.dataset.issue);
  });
  ui.table.addEventListener("keydown", (event) => moveFocus(event, "button.cell"));
  ui.detailClose.addEventListener("click", () => {
    const selected = closeDetail();
    if (selected) cellButtonAt(selected.party, selected.issue)?.focus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !ui.detail.hidden) {
      const selected = closeDetail();
      if (selected) cellButtonAt(selected.party, selected.issue)?.focus();
    }
  });
}

async function main() {
  renderLegends();
  wire();
  try {
    await loadSources();
  } catch (error) {
    showError(error); // the matrix may still load; diffs from a date still work
  }
  readUrl();
  await load();
}

main();
