// Stancemap viewer: the party × issue matrix as of a date, and what changed since an earlier moment.
// It reads only the public JSON API (v1/matrix, v1/diff, v1/sources), with paths relative to the
// page, so the viewer works wherever the API is served.

const STANCES = [
  ["support", "support"],
  ["lean_support", "lean support"],
  ["neutral", "neutral"],
  ["lean_oppose", "lean oppose"],
  ["oppose", "oppose"],
  ["unclear", "unclear"],
  ["none", "no position"],
];
const STANCE_LABEL = Object.fromEntries(STANCES);

const CHANGES = [
  ["new", "a position where there was none"],
  ["withdrawn", "the position no longer stands"],
  ["shifted", "moved without crossing sides, or to or from neutral or unclear"],
  ["reversed", "crossed between the support and oppose sides"],
];
const CHANGED = new Set(CHANGES.map(([value]) => value));

const MAX_SOURCE_PAGES = 20; // 200 sources a page: enough for a select, and a bound on a runaway list

const $ = (selector) => document.querySelector(selector);
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
};

const state = {
  matrix: null,
  diff: null,
  sources: new Map(), // id -> source summary
  selected: null, // {party, issue}
  controller: null,
};

// --- DOM helpers -------------------------------------------------------------------------------

/** Builds an element; text children are inserted as text, never parsed as HTML. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const day = (timestamp) => (timestamp ? String(timestamp).slice(0, 10) : null);
const time = (date) => el("time", { datetime: date }, date);
const key = (party, issue) => `${party}\u0000${issue}`;
const plural = (count, word, words = `${word}s`) => `${count} ${count === 1 ? word : words}`;
// A cell's evidence_count: the statements that have held its stance since the party last took it.
const evidenceText = (count) => `${plural(count, "statement", "statements in a row")} with this stance`;

// --- API ---------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, problem = null) {
    super(message);
    this.name = "ApiError";
    this.problem = problem;
  }
}

async function getJSON(path, params = {}, signal = undefined) {
  const url = new URL(path, document.baseURI);
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" }, signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(`The server could not be reached (${error.message}).`);
  }
  const type = response.headers.get("content-type") || "";
  if (!response.ok) {
    if (type.includes("json")) {
      const problem = await response.json().catch(() => null);
      if (problem && typeof problem === "object") {
        throw new ApiError(problem.detail || problem.title || `HTTP ${response.status}`, problem);
      }
    }
    throw new ApiError(`The server answered ${response.status} ${response.statusText} for ${url.pathname}.`);
  }
  return response.json();
}

async function loadSources() {
  const sources = [];
  let cursor = null;
  for (let page = 0; page < MAX_SOURCE_PAGES; page += 1) {
    const body = await getJSON("v1/sources", { limit: 200, cursor });
    sources.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
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

function showError(error) {
  const problem = error.problem;
  const fields = (problem?.errors || [])
    .map((item) => `${item.field || (item.loc || []).join(".")}: ${item.message}`)
    .filter((text) => text && !text.endsWith(`: ${problem.detail}`));
  ui.error.replaceChildren(
    el("p", {}, el("strong", {}, problem?.title ? `${problem.title}${problem.status ? ` (${problem.status})` : ""}: ` : "Error: "),
      el("span", { class: "error-detail" }, error.message)),
    fields.length ? el("ul", {}, fields.map((text) => el("li", {}, text))) : null,
  );
  ui.error.hidden = false;
}

function clearError() {
  ui.error.hidden = true;
  ui.error.replaceChildren();
}

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
    ui.caption.textContent = "No positions to show.";
    thead.replaceChildren();
    tbody.replaceChildren();
    ui.status.textContent = "";
    delete ui.table.dataset.asOf;
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

  const positions = matrix.cells.filter((cell) => cell.stance).length;
  if (diff) {
    const counts = CHANGES.map(([value]) => `${diff.summary[value]} ${value}`).join(", ");
    ui.status.textContent = `From ${describeEnd(diff.from)} to ${diff.to.as_of}: ${counts}; ${diff.summary.unchanged} unchanged.`;
  } else {
    ui.status.textContent = `${plural(matrix.parties.length, "party", "parties")} × ${plural(matrix.issues.length, "issue")} as of ${matrix.as_of}: ${plural(positions, "position")}.`;
  }

  if (state.selected && cells.has(key(state.selected.party, state.selected.issue))) {
    showDetail(state.selected.party, state.selected.issue, { focus: false });
  } else {
    closeDetail();
  }
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

function cellBlock(cell, party, asOf) {
  if (!cell || !cell.stance) {
    return el("div", { class: "cell-detail", dataset: { stance: "none" } },
      el("p", { class: "no-position" }, `No standing statement of ${party.name} on this issue as of ${asOf}.`));
  }
  const source = cell.source;
  const context = cell.selector
    ? el("p", { class: "in-context" }, el("span", { class: "context-label" }, "In context: "),
      `…${cell.selector.prefix}`, el("mark", {}, cell.quote), `${cell.selector.suffix}…`)
    : null;
  return el("div", { class: "cell-detail", dataset: { stance: cell.stance } },
    el("p", {}, el("span", { class: `stance-chip stance-${cell.stance}` }, STANCE_LABEL[cell.stance])),
    el("blockquote", { class: "quote" },
      el("span", { class: "quote-mark", "aria-hidden": "true" }, "«"),
      el("span", { class: "quote-text" }, cell.quote),
      el("span", { class: "quote-mark", "aria-hidden": "true" }, "»")),
    context,
    cell.flag
      ? el("p", { class: "quote-flag", role: "note" },
        `Needs review: source ${cell.flag.source}, a newer version of this article, `,
        cell.flag.outcome === "drifted" ? "has only a close variant of this quote" : "no longer has this quote",
        ". An editor can correct, retract or confirm the statement.")
      : null,
    el("dl", { class: "facts" },
      el("dt", {}, "Speaker"), el("dd", { class: "speaker" }, cell.speaker || el("span", { class: "muted" }, "not named")),
      el("dt", {}, "Stated on"), el("dd", { class: "stated-on" }, cell.stated_on ? time(cell.stated_on) : "—"),
      el("dt", {}, "Summary"), el("dd", { class: "summary" }, cell.summary || el("span", { class: "muted" }, "none")),
      el("dt", {}, "Evidence"), el("dd", { class: "evidence-count" },
        evidenceText(cell.evidence_count),
        cell.evidence_since ? [" since ", time(cell.evidence_since)] : null),
      el("dt", {}, "Source"), el("dd", { class: "source" },
        source
          ? [
            el("cite", { class: "source-title" }, source.title),
            el("span", { class: "source-published" }, ", published ", time(day(source.published_at))),
            el("br"),
            el("a", { class: "source-text-link", href: `v1/sources/${source.id}/text` }, "Read the source text"),
            source.url ? [" · ", el("a", { class: "source-url", href: source.url, rel: "noopener noreferrer" }, "original")] : null,
          ]
          : "—"),
    ),
  );
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
          cellBlock(change.before, party, state.diff.from.as_of)),
        el("section", { class: "side after", dataset: { side: "after" } },
          el("h3", {}, "After · as of ", describeEnd(state.diff.to)),
          cellBlock(change.after, party, state.diff.to.as_of)),
      ),
    );
  } else {
    ui.detailBody.replaceChildren(proposition, cellBlock(cell, party, state.matrix.as_of));
  }
  ui.detail.dataset.party = partySlug;
  ui.detail.dataset.issue = issueSlug;
  ui.detail.hidden = false;
  for (const button of ui.table.querySelectorAll("button.cell")) {
    const current = button.dataset.party === partySlug && button.dataset.issue === issueSlug;
    if (current) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  if (focus) {
    const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    ui.detail.scrollIntoView({ block: "nearest", behavior: reduced ? "auto" : "smooth" });
  }
}

function closeDetail() {
  const selected = state.selected;
  state.selected = null;
  ui.detail.hidden = true;
  ui.detailBody.replaceChildren();
  for (const button of ui.table.querySelectorAll("button.cell")) {
    button.removeAttribute("aria-current");
  }
  return selected;
}

function cellButtonAt(party, issue) {
  return ui.table.querySelector(`button.cell[data-party="${CSS.escape(party)}"][data-issue="${CSS.escape(issue)}"]`);
}

// --- keyboard ----------------------------------------------------------------------------------

function moveFocus(event) {
  const button = event.target.closest("button.cell");
  if (!button) return;
  const cell = button.parentElement;
  const row = cell.parentElement;
  const rows = [...row.parentElement.rows];
  const column = [...row.cells].indexOf(cell);
  const rowIndex = rows.indexOf(row);
  let target = null;
  switch (event.key) {
    case "ArrowRight": target = row.cells[column + 1]; break;
    case "ArrowLeft": target = column > 1 ? row.cells[column - 1] : null; break;
    case "ArrowDown": target = rows[rowIndex + 1]?.cells[column]; break;
    case "ArrowUp": target = rows[rowIndex - 1]?.cells[column]; break;
    case "Home": target = row.cells[1]; break;
    case "End": target = row.cells[row.cells.length - 1]; break;
    default: return;
  }
  const next = target?.querySelector("button.cell");
  if (next) {
    event.preventDefault();
    next.focus();
  }
}

// --- wiring ------------------------------------------------------------------------------------

/** Date fields change on every keystroke (typing a year passes through 0002, 0020, 0202, ...):
 * load once the typing pauses. */
let pendingLoad = null;
function loadSoon() {
  clearTimeout(pendingLoad);
  document.body.dataset.state = "loading";
  pendingLoad = setTimeout(load, 350);
}

function loadNow() {
  clearTimeout(pendingLoad);
  load();
}

function wire() {
  ui.asOf.addEventListener("change", loadSoon);
  ui.today.addEventListener("click", () => {
    ui.asOf.value = "";
    loadNow();
  });
  ui.diffToggle.addEventListener("change", loadNow);
  ui.fromMoment.addEventListener("change", loadNow);
  ui.fromDate.addEventListener("change", () => {
    ui.fromMoment.value = "date";
    loadSoon();
  });
  $("#controls").addEventListener("submit", (event) => {
    event.preventDefault();
    loadNow();
  });
  ui.table.addEventListener("click", (event) => {
    const button = event.target.closest("button.cell");
    if (button) showDetail(button.dataset.party, button.dataset.issue);
  });
  ui.table.addEventListener("keydown", moveFocus);
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
