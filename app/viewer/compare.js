// Stancemap viewer, "Compare parties": every pair of chosen parties' agreement as of a date, as a
// party × party grid, and for one pair the issues where the two differ, with both quotes side by side.
// It reads only the public JSON API (v1/parties, v1/compare).

import {
  $, STANCE_LABEL, clearError, clearGrid, el, getJSON, key, listAll, loader, markCurrent, moveFocus, plural, positionBlock, reveal,
  showError, wireDate,
} from "./common.js";

const DEFAULT_PARTIES = 12; // a grid that fits a screen; the reader may choose more
const MAX_PARTIES = 50; // what GET /v1/compare accepts
// Agreement in five bands of 20 points, each with its colour; the number is written in every cell.
const BANDS = ["0–19 %", "20–39 %", "40–59 %", "60–79 %", "80–100 %"];

const ui = {
  asOf: $("#as-of"),
  today: $("#as-of-today"),
  partyOptions: $("#party-options"),
  all: $("#parties-all"),
  none: $("#parties-none"),
  error: $("#error"),
  status: $("#status"),
  table: $("#agreement"),
  caption: $("#agreement-caption"),
  legend: $("#agreement-legend"),
  detail: $("#detail"),
  detailTitle: $("#detail-title"),
  detailBody: $("#detail-body"),
  detailClose: $("#detail-close"),
};

const state = {
  parties: [], // every party, in the API's order
  comparison: null,
  pairs: new Map(), // key(a, b) and key(b, a) -> pair
  selected: null, // {a, b}: the row's party, the column's
  controller: null,
};

/** Whole percent for the grid, one decimal in the detail; halves round up. */
function percent(value, digits = 0) {
  const scale = 10 ** digits;
  return `${(Math.round(value * 100 * scale) / scale).toFixed(digits)} %`;
}

function band(value) {
  return value === null ? "none" : String(Math.min(BANDS.length - 1, Math.floor(Math.round(value * 100) / 20)));
}

// --- controls and URL --------------------------------------------------------------------------

function chosen() {
  return [...ui.partyOptions.querySelectorAll("input:checked")].map((input) => input.value);
}

function choose(slugs) {
  const wanted = new Set(slugs);
  for (const input of ui.partyOptions.querySelectorAll("input")) input.checked = wanted.has(input.value);
}

function renderPartyOptions() {
  ui.partyOptions.replaceChildren(
    ...state.parties.map((party) =>
      el("label", { class: "party-option" },
        el("input", { type: "checkbox", name: "parties", value: party.slug, dataset: { party: party.slug } }),
        ` ${party.name}`)),
  );
}

function readUrl() {
  const params = new URLSearchParams(window.location.search);
  if (params.get("as_of")) ui.asOf.value = params.get("as_of");
  const listed = (params.get("parties") || "").split(",").filter(Boolean);
  choose(listed.length ? listed : state.parties.slice(0, DEFAULT_PARTIES).map((party) => party.slug));
  const pair = (params.get("pair") || "").split(",");
  state.selected = pair.length === 2 ? { a: pair[0], b: pair[1] } : null;
}

function writeUrl() {
  const params = new URLSearchParams();
  if (ui.asOf.value) params.set("as_of", ui.asOf.value);
  params.set("parties", chosen().join(","));
  if (state.selected) params.set("pair", `${state.selected.a},${state.selected.b}`);
  window.history.replaceState(null, "", `?${params.toString().replaceAll("%2C", ",")}`);
}

// --- loading -----------------------------------------------------------------------------------

async function load() {
  state.controller?.abort();
  const controller = new AbortController();
  state.controller = controller;
  clearError(ui.error);
  const parties = chosen();
  if (parties.length < 2) {
    state.comparison = null;
    render();
    writeUrl();
    ui.status.textContent = "Choose at least two parties to compare.";
    document.body.dataset.state = "ready";
    return;
  }
  document.body.dataset.state = "loading";
  ui.table.setAttribute("aria-busy", "true");
  let comparison = null;
  let failure = null;
  try {
    comparison = await getJSON("v1/compare", { parties: parties.join(","), as_of: ui.asOf.value || null }, controller.signal);
  } catch (error) {
    if (error.name === "AbortError") return;
    failure = error;
  }
  if (controller.signal.aborted) return; // a newer load owns the page now
  ui.table.removeAttribute("aria-busy");
  state.comparison = comparison;
  render();
  writeUrl(); // a link to what is on screen
  if (failure) {
    showError(ui.error, failure);
    document.body.dataset.state = "error";
  } else {
    document.body.dataset.state = "ready";
  }
}

// --- the grid ----------------------------------------------------------------------------------

function render() {
  const { comparison } = state;
  const thead = ui.table.tHead;
  const tbody = ui.table.tBodies[0];
  state.pairs = new Map();
  if (!comparison) {
    clearGrid(ui.table, "No comparison to show.");
    ui.status.textContent = "";
    closeDetail();
    return;
  }
  for (const pair of comparison.pairs) {
    const [a, b] = pair.parties;
    state.pairs.set(key(a, b), pair);
    state.pairs.set(key(b, a), pair);
  }
  ui.table.dataset.asOf = comparison.as_of;
  ui.table.dataset.parties = comparison.parties.map((party) => party.slug).join(",");
  ui.caption.textContent = `Agreement between parties as of ${comparison.as_of}, over ${plural(comparison.issues.length, "issue")}`;

  thead.replaceChildren(
    el("tr", {},
      el("th", { scope: "col", class: "corner" }, el("span", { class: "visually-hidden" }, "Party"),
        el("span", { "aria-hidden": "true" }, "Party ╲ Party")),
      comparison.parties.map((party) => el("th", { scope: "col", title: party.kind, dataset: { party: party.slug } }, party.name)),
    ),
  );
  tbody.replaceChildren(
    ...comparison.parties.map((row) =>
      el("tr", { dataset: { party: row.slug } },
        el("th", { scope: "row", title: row.kind, dataset: { party: row.slug } }, row.name),
        comparison.parties.map((column) =>
          row.slug === column.slug
            ? el("td", { class: "self" }, el("span", { "aria-hidden": "true" }, "—"),
              el("span", { class: "visually-hidden" }, `${row.name} itself`))
            : el("td", {}, pairButton(row, column, state.pairs.get(key(row.slug, column.slug))))),
      )),
  );

  const scored = comparison.pairs.filter((pair) => pair.agreement !== null);
  const closest = scored.reduce((best, pair) => (best === null || pair.agreement > best.agreement ? pair : best), null);
  ui.status.textContent = `${plural(comparison.parties.length, "party", "parties")}, ${plural(comparison.pairs.length, "pair")} as of ${comparison.as_of}` +
    (closest
      ? `; closest: ${partyName(closest.parties[0])} and ${partyName(closest.parties[1])}, ${percent(closest.agreement)} over ${plural(closest.issues_compared, "issue")}.`
      : ".");

  if (state.selected && state.pairs.has(key(state.selected.a, state.selected.b))) {
    showPair(state.selected.a, state.selected.b, { focus: false });
  } else {
    closeDetail();
  }
}

function partyName(slug) {
  return state.comparison.parties.find((party) => party.slug === slug)?.name || slug;
}

function pairButton(row, column, pair) {
  const { agreement, issues_compared: compared } = pair;
  const value = agreement === null ? "n/a" : percent(agreement);
  const label = agreement === null
    ? `${row.name} and ${column.name}: no issue where both have a position`
    : `${row.name} and ${column.name}: ${value} agreement over ${plural(compared, "issue")}`;
  return el("button", {
    type: "button",
    class: `pair band-${band(agreement)}`,
    "aria-label": label,
    "aria-controls": "detail",
    dataset: { a: row.slug, b: column.slug, agreement: agreement ?? "", issuesCompared: compared },
  },
  el("span", { class: "pair-value" }, value),
  el("span", { class: "pair-count" }, plural(compared, "issue")));
}

function renderLegend() {
  ui.legend.replaceChildren(
    ...BANDS.map((label, index) =>
      el("li", {}, el("span", { class: `swatch band-${index}`, "aria-hidden": "true" }), label)),
    el("li", {}, el("span", { class: "swatch band-none", "aria-hidden": "true" }), "n/a: no issue where both have a position"),
  );
}

// --- one pair ----------------------------------------------------------------------------------

const hasPosition = (cell) => cell.stance !== null && cell.stance !== "unclear";

/** The pair's issues as seen from the row's party `a`: per issue its agreement and both parties'
 * cells, a's first (party i's cell on issue j is cells[i × issues.length + j]), and who has no position. */
function pairIssues(pair, a, b) {
  const { parties, issues, cells } = state.comparison;
  const row = (slug) => parties.findIndex((party) => party.slug === slug) * issues.length;
  const [rowA, rowB] = [row(a), row(b)];
  return issues.map((issue, index) => {
    const sides = [cells[rowA + index], cells[rowB + index]];
    return {
      issue: issue.slug,
      agreement: pair.agreements[index],
      cells: sides,
      noPosition: [a, b].filter((slug, side) => !hasPosition(sides[side])),
    };
  });
}

function issueBlock(item, a, b, issues) {
  const issue = issues.get(item.issue);
  const asOf = state.comparison.as_of;
  const side = (slug, cell) =>
    el("section", { class: "side", dataset: { party: slug } },
      el("h5", {}, partyName(slug)),
      positionBlock(cell, partyName(slug), asOf));
  const note = item.agreement === null
    ? `no position: ${item.noPosition.map(partyName).join(" and ")}`
    : `agreement ${percent(item.agreement)}`;
  return el("article", { class: "pair-issue", dataset: { issue: item.issue, agreement: item.agreement ?? "" } },
    el("h4", {}, issue.title, " ", el("span", { class: "issue-agreement" }, note)),
    el("p", { class: "proposition" }, el("span", { class: "context-label" }, "Proposition: "), issue.proposition),
    el("div", { class: "compare" }, side(a, item.cells[0]), side(b, item.cells[1])));
}

function group(name, title, items, empty, renderItem) {
  return el("section", { class: "pair-group", dataset: { group: name } },
    el("h3", {}, `${title} (${items.length})`),
    items.length ? items.map(renderItem) : el("p", { class: "muted" }, empty));
}

function showPair(a, b, { focus = true } = {}) {
  const pair = state.pairs.get(key(a, b));
  if (!pair) return;
  state.selected = { a, b };
  const issues = new Map(state.comparison.issues.map((issue) => [issue.slug, issue]));
  const items = pairIssues(pair, a, b);
  const differ = items.filter((item) => item.agreement !== null && item.agreement < 1)
    .sort((x, y) => x.agreement - y.agreement); // furthest apart first; sort is stable, so issue order next
  const oneSided = items.filter((item) => item.agreement === null && item.noPosition.length === 1);
  const neither = items.filter((item) => item.agreement === null && item.noPosition.length === 2);
  const agree = items.filter((item) => item.agreement === 1);

  ui.detailTitle.textContent = `${partyName(a)} and ${partyName(b)}`;
  ui.detailBody.replaceChildren(
    el("p", { class: "pair-summary" },
      pair.agreement === null
        ? `No issue where both have a position as of ${state.comparison.as_of}.`
        : `Agreement ${percent(pair.agreement, 1)} over the ${plural(pair.issues_compared, "issue")} where both have a position, as of ${state.comparison.as_of}.`),
    group("differ", "Where they differ", differ, "Nowhere: on every issue both take a position on, they take the same stance.",
      (item) => issueBlock(item, a, b, issues)),
    group("no-position", "Where one has no position", oneSided, "None.",
      (item) => issueBlock(item, a, b, issues)),
    neither.length
      ? el("p", { class: "neither" }, "Neither has a position on: ",
        neither.map((item, index) => [index ? ", " : "",
          el("span", { class: "neither-issue", dataset: { issue: item.issue } }, issues.get(item.issue).title)]), ".")
      : null,
    group("agree", "Where they take the same stance", agree, "None.",
      (item) => el("p", { class: "same-stance", dataset: { issue: item.issue } },
        el("span", { class: `stance-chip stance-${item.cells[0].stance}` }, STANCE_LABEL[item.cells[0].stance]), " ",
        issues.get(item.issue).title)),
  );
  ui.detail.dataset.a = a;
  ui.detail.dataset.b = b;
  ui.detail.hidden = false;
  markCurrent(ui.table, "button.pair", (button) => button.dataset.a === a && button.dataset.b === b);
  writeUrl();
  if (focus) {
    // The quotes are what the reader came for: focus moves to them, Escape brings it back.
    ui.detail.focus({ preventScroll: true });
    reveal(ui.detail, "start");
  }
}

function closeDetail() {
  const selected = state.selected;
  state.selected = null;
  ui.detail.hidden = true;
  ui.detailBody.replaceChildren();
  markCurrent(ui.table, "button.pair");
  return selected;
}

function closeAndReturn() {
  const selected = closeDetail();
  writeUrl();
  if (selected) {
    ui.table.querySelector(`button.pair[data-a="${CSS.escape(selected.a)}"][data-b="${CSS.escape(selected.b)}"]`)?.focus();
  }
}

// --- wiring ------------------------------------------------------------------------------------

const loading = loader(load);

function wire() {
  wireDate({ input: ui.asOf, today: ui.today, form: $("#controls") }, loading);
  ui.partyOptions.addEventListener("change", loading.soon);
  ui.all.addEventListener("click", () => {
    choose(state.parties.slice(0, MAX_PARTIES).map((party) => party.slug));
    loading.now();
  });
  ui.none.addEventListener("click", () => {
    choose([]);
    loading.now();
  });
  ui.table.addEventListener("click", (event) => {
    const button = event.target.closest("button.pair");
    if (button) showPair(button.dataset.a, button.dataset.b);
  });
  ui.table.addEventListener("keydown", (event) => moveFocus(event, "button.pair"));
  ui.detailClose.addEventListener("click", closeAndReturn);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !ui.detail.hidden) closeAndReturn();
  });
}

async function main() {
  renderLegend();
  wire();
  try {
    state.parties = await listAll("v1/parties");
  } catch (error) {
    showError(ui.error, error);
    document.body.dataset.state = "error";
    return;
  }
  renderPartyOptions();
  readUrl();
  await load();
}

main();
