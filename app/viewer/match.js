// Stancemap viewer, "Which party stands closest to me?": the issues' propositions one at a time, then
// the parties ranked by POST /v1/match, each with its points per proposition and the quote behind them.
// The reader's answers live in this module's memory only: no storage, no cookie, nothing in the URL;
// they leave the page only as the body of the POST.

import { $, STANCE_LABEL, citation, clearError, el, listAll, loader, plural, postJSON, showError, wireDate } from "./common.js";

const DOUBLE = 2; // the weight of a proposition that counts double
const ANSWER_LABEL = {
  support: "agree",
  lean_support: "lean agree",
  neutral: "neutral",
  lean_oppose: "lean disagree",
  oppose: "disagree",
  skip: "skipped",
};

const ui = {
  error: $("#error"),
  status: $("#status"),
  intro: $("#intro"),
  introCount: $("#intro-count"),
  start: $("#start"),
  question: $("#question"),
  progress: $("#progress"),
  progressFill: $("#progress-fill"),
  title: $("#question-title"),
  proposition: $("#question-proposition"),
  double: $("#double"),
  answers: $("#answers"),
  back: $("#back"),
  next: $("#next"),
  finish: $("#finish"),
  results: $("#results"),
  resultsTitle: $("#results-title"),
  summary: $("#results-summary"),
  asOf: $("#as-of"),
  today: $("#as-of-today"),
  ranking: $("#ranking"),
  changeAnswers: $("#change-answers"),
  restart: $("#restart"),
};

const state = {
  issues: [],
  index: 0,
  answers: new Map(), // issue slug -> stance or "skip"
  doubled: new Set(), // issue slugs
  result: null,
  controller: null,
};

const number = (value) => String(Number(value.toFixed(2))); // 19.0 -> "19", 1.5 -> "1.5"

function show(step) {
  for (const section of [ui.intro, ui.question, ui.results]) section.hidden = section !== step;
}

// --- the propositions --------------------------------------------------------------------------

function ask(index) {
  state.index = index;
  const issue = state.issues[index];
  const last = index === state.issues.length - 1;
  show(ui.question);
  ui.question.dataset.issue = issue.slug;
  ui.progress.textContent = `Proposition ${index + 1} of ${state.issues.length}`;
  ui.progressFill.style.width = `${(100 * (index + 1)) / state.issues.length}%`;
  ui.title.textContent = issue.title;
  ui.proposition.textContent = issue.proposition;
  ui.double.checked = state.doubled.has(issue.slug);
  const answer = state.answers.get(issue.slug);
  for (const button of ui.answers.querySelectorAll("button.answer")) {
    button.setAttribute("aria-pressed", String(button.dataset.answer === answer));
  }
  ui.back.disabled = index === 0;
  ui.next.textContent = last ? "See the ranking" : "Next";
  ui.finish.hidden = last;
  ui.title.focus();
}

function answer(value) {
  const issue = state.issues[state.index];
  state.answers.set(issue.slug, value);
  ui.status.textContent = `${issue.title}: ${ANSWER_LABEL[value]}.`;
  forward();
}

function forward() {
  if (state.index < state.issues.length - 1) ask(state.index + 1);
  else rank();
}

/** The body of POST /v1/match: the answers in the propositions' order, and the weights of those
 * answered that count double. */
function matchRequest() {
  const answers = {};
  const weights = {};
  for (const issue of state.issues) {
    const value = state.answers.get(issue.slug);
    if (!value) continue;
    answers[issue.slug] = value;
    if (value !== "skip" && state.doubled.has(issue.slug)) weights[issue.slug] = DOUBLE;
  }
  const body = { answers };
  if (Object.keys(weights).length) body.weights = weights;
  if (ui.asOf.value) body.as_of = ui.asOf.value;
  return body;
}

// --- the ranking -------------------------------------------------------------------------------

async function rank() {
  clearError(ui.error);
  if (state.answers.size === 0) {
    ui.status.textContent = "Answer or skip at least one proposition to see a ranking.";
    return;
  }
  state.controller?.abort();
  const controller = new AbortController();
  state.controller = controller;
  document.body.dataset.state = "loading";
  ui.ranking.setAttribute("aria-busy", "true");
  show(ui.results);
  let result = null;
  try {
    result = await postJSON("v1/match", matchRequest(), controller.signal);
  } catch (error) {
    if (error.name === "AbortError") return;
    if (controller.signal.aborted) return;
    ui.ranking.removeAttribute("aria-busy");
    state.result = null;
    ui.ranking.replaceChildren();
    ui.summary.textContent = "";
    showError(ui.error, error);
    document.body.dataset.state = "error";
    ui.resultsTitle.focus();
    return;
  }
  if (controller.signal.aborted) return; // a newer request owns the page now
  ui.ranking.removeAttribute("aria-busy");
  state.result = result;
  renderResult(result);
  document.body.dataset.state = "ready";
  ui.resultsTitle.focus();
}

function renderResult(result) {
  ui.ranking.dataset.asOf = result.as_of;
  const top = result.results[0];
  ui.summary.textContent =
    `${plural(result.answered, "proposition")} answered, ${result.skipped} skipped; positions as of ${result.as_of}. ` +
    `At most ${number(result.max_points)} points.`;
  ui.status.textContent = top
    ? `Ranking of ${plural(result.results.length, "party", "parties")}: closest is ${top.party.name} with ${top.score.toFixed(1)} %.`
    : "No party to rank.";
  ui.ranking.replaceChildren(...result.results.map((entry) => resultItem(entry, result.issues)));
}

function resultItem(entry, issues) {
  const id = `breakdown-${entry.party.slug}`;
  const score = `${entry.score.toFixed(1)} %`;
  const breakdown = el("div", { id, class: "breakdown", hidden: true },
    el("table", { class: "breakdown-table" },
      el("caption", {}, `How ${entry.party.name} scores on each proposition you answered`),
      el("thead", {}, el("tr", {},
        el("th", { scope: "col" }, "Proposition"),
        el("th", { scope: "col" }, "You"),
        el("th", { scope: "col" }, entry.party.name),
        el("th", { scope: "col" }, "Points"),
        el("th", { scope: "col" }, "The party's quote and its source"))),
      el("tbody", {}, entry.issues.map((item) => breakdownRow(item, issues)))));
  const toggleText = (open) => `${open ? "Hide" : "Show"} how ${entry.party.name} scores, proposition by proposition`;
  const toggle = el("button", {
    type: "button", class: "breakdown-toggle", "aria-expanded": "false", "aria-controls": id,
  }, toggleText(false));
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = toggleText(open);
    breakdown.hidden = !open;
  });
  return el("li", { class: "result", dataset: { party: entry.party.slug, rank: entry.rank, score: entry.score } },
    el("div", { class: "result-head" },
      el("span", { class: "rank" }, `${entry.rank}.`),
      el("h3", { class: "party-name" }, entry.party.name),
      el("span", { class: "score" }, score)),
    el("div", { class: "score-track", "aria-hidden": "true" },
      el("span", { class: "score-fill", style: `width: ${Math.max(0, Math.min(100, entry.score))}%` })),
    el("p", { class: "points" },
      `${number(entry.points)} of ${number(entry.max_points)} points · a position on `,
      `${entry.issues_with_position} of ${plural(entry.issues.length, "proposition")} you answered`),
    toggle,
    breakdown);
}

function breakdownRow(item, issues) {
  const issue = issues.find((candidate) => candidate.slug === item.issue);
  const stance = item.stance || "none";
  return el("tr", { dataset: { issue: item.issue, points: item.points, stance } },
    el("th", { scope: "row" }, el("span", { class: "issue-title" }, issue?.title || item.issue),
      el("span", { class: "proposition" }, issue?.proposition || "")),
    el("td", { class: "answer-cell" }, ANSWER_LABEL[item.answer],
      item.weight !== 1 ? el("span", { class: "weight" }, ` (counts ×${number(item.weight)})`) : null),
    el("td", {}, el("span", { class: `stance-chip stance-${stance}` }, STANCE_LABEL[stance])),
    el("td", { class: "points-cell" }, `${number(item.points)} of ${number(item.max_points)}`),
    el("td", { class: "quote-cell" }, citation(item.cell)));
}

// --- wiring ------------------------------------------------------------------------------------

const ranking = loader(rank);

function wire() {
  ui.start.addEventListener("click", () => ask(0));
  ui.answers.addEventListener("click", (event) => {
    const button = event.target.closest("button.answer");
    if (button) answer(button.dataset.answer);
  });
  ui.double.addEventListener("change", () => {
    const issue = state.issues[state.index];
    if (ui.double.checked) state.doubled.add(issue.slug);
    else state.doubled.delete(issue.slug);
  });
  ui.back.addEventListener("click", () => ask(Math.max(0, state.index - 1)));
  ui.next.addEventListener("click", forward);
  ui.finish.addEventListener("click", rank);
  ui.changeAnswers.addEventListener("click", () => ask(Math.min(state.index, state.issues.length - 1)));
  ui.restart.addEventListener("click", () => {
    state.answers.clear();
    state.doubled.clear();
    state.result = null;
    ui.ranking.replaceChildren();
    ui.status.textContent = "Answers cleared.";
    ask(0);
  });
  wireDate({ input: ui.asOf, today: ui.today, form: $("#result-controls") }, ranking);
}

async function main() {
  wire();
  try {
    state.issues = await listAll("v1/issues");
  } catch (error) {
    showError(ui.error, error);
    ui.introCount.textContent = "The propositions could not be loaded.";
    ui.start.disabled = true;
    document.body.dataset.state = "error";
    return;
  }
  ui.introCount.textContent = `${plural(state.issues.length, "proposition")} to answer.`;
  ui.start.disabled = state.issues.length === 0;
  document.body.dataset.state = "ready";
}

main();
