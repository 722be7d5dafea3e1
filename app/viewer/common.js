// What the viewer's pages share: building elements, calling the public JSON API, showing its
// problems, a position with its quote and source, and moving through a grid of buttons by keyboard.

export const STANCES = [
  ["support", "support"],
  ["lean_support", "lean support"],
  ["neutral", "neutral"],
  ["lean_oppose", "lean oppose"],
  ["oppose", "oppose"],
  ["unclear", "unclear"],
  ["none", "no position"],
];
export const STANCE_LABEL = Object.fromEntries(STANCES);

const MAX_LIST_PAGES = 20; // 200 items a page: a bound on a runaway list

/** Builds an element; text children are inserted as text, never parsed as HTML. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const $ = (selector) => document.querySelector(selector);
export const day = (timestamp) => (timestamp ? String(timestamp).slice(0, 10) : null);
export const time = (date) => el("time", { datetime: date }, date);
export const key = (...parts) => parts.join("\u0000");
export const plural = (count, word, words = `${word}s`) => `${count} ${count === 1 ? word : words}`;
// A cell's evidence_count: the statements that have held its stance since the party last took it.
export const evidenceText = (count) => `${plural(count, "statement", "statements in a row")} with this stance`;

// --- API ---------------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(message, problem = null) {
    super(message);
    this.name = "ApiError";
    this.problem = problem;
  }
}

async function request(url, init) {
  let response;
  try {
    response = await fetch(url, init);
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

/** GET a path relative to the page, so the viewer works wherever the API is served. */
export function getJSON(path, params = {}, signal = undefined) {
  const url = new URL(path, document.baseURI);
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  return request(url, { headers: { Accept: "application/json" }, signal });
}

export function postJSON(path, body, signal = undefined) {
  const url = new URL(path, document.baseURI);
  return request(url, {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal,
  });
}

/** Every item of a cursor-paginated list (parties, issues, sources). */
export async function listAll(path) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < MAX_LIST_PAGES; page += 1) {
    const body = await getJSON(path, { limit: 200, cursor });
    items.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return items;
}

// --- errors ------------------------------------------------------------------------------------

/** A problem from the API in the page's alert: its title, detail, and each field's message. */
export function showError(container, error) {
  const problem = error.problem;
  const fields = (problem?.errors || [])
    .map((item) => `${item.field || (item.loc || []).join(".")}: ${item.message}`)
    .filter((text) => text && !text.endsWith(`: ${problem.detail}`));
  container.replaceChildren(
    el("p", {}, el("strong", {}, problem?.title ? `${problem.title}${problem.status ? ` (${problem.status})` : ""}: ` : "Error: "),
      el("span", { class: "error-detail" }, error.message)),
    fields.length ? el("ul", {}, fields.map((text) => el("li", {}, text))) : null,
  );
  container.hidden = false;
}

export function clearError(container) {
  container.hidden = true;
  container.replaceChildren();
}

// --- a position, its quote and its source ------------------------------------------------------

function sourceLine(source) {
  if (!source) return "—";
  return [
    el("cite", { class: "source-title" }, source.title),
    el("span", { class: "source-published" }, ", published ", time(day(source.published_at))),
    el("br"),
    el("a", { class: "source-text-link", href: `v1/sources/${source.id}/text` }, "Read the source text"),
    source.url ? [" · ", el("a", { class: "source-url", href: source.url, rel: "noopener noreferrer" }, "original")] : null,
  ];
}

export function quoteBlock(quote) {
  return el("blockquote", { class: "quote" },
    el("span", { class: "quote-mark", "aria-hidden": "true" }, "«"),
    el("span", { class: "quote-text" }, quote),
    el("span", { class: "quote-mark", "aria-hidden": "true" }, "»"));
}

/** A matrix cell as the reader checks it: stance, quote in context, speaker, date, evidence, source. */
export function positionBlock(cell, partyName, asOf) {
  if (!cell || !cell.stance) {
    return el("div", { class: "cell-detail", dataset: { stance: "none" } },
      el("p", { class: "no-position" }, `No standing statement of ${partyName} on this issue as of ${asOf}.`));
  }
  const context = cell.selector
    ? el("p", { class: "in-context" }, el("span", { class: "context-label" }, "In context: "),
      `…${cell.selector.prefix}`, el("mark", {}, cell.quote), `${cell.selector.suffix}…`)
    : null;
  return el("div", { class: "cell-detail", dataset: { stance: cell.stance } },
    el("p", {}, el("span", { class: `stance-chip stance-${cell.stance}` }, STANCE_LABEL[cell.stance])),
    quoteBlock(cell.quote),
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
      el("dt", {}, "Source"), el("dd", { class: "source" }, sourceLine(cell.source)),
    ),
  );
}

/** The quote and who said it, when and where, in one compact block (for lists and tables). */
export function citation(cell) {
  if (!cell || !cell.quote) return el("p", { class: "no-position" }, "No quote: no standing statement.");
  return el("div", { class: "citation" },
    quoteBlock(cell.quote),
    el("p", { class: "cited" },
      el("span", { class: "speaker" }, cell.speaker || "speaker not named"), ", ",
      el("span", { class: "stated-on" }, cell.stated_on ? time(cell.stated_on) : "undated"), " · ",
      cell.source
        ? [el("cite", { class: "source-title" }, cell.source.title), " · ",
          el("a", { class: "source-text-link", href: `v1/sources/${cell.source.id}/text` }, "source text")]
        : "no source"),
  );
}

// --- keyboard ----------------------------------------------------------------------------------

/** Arrow keys, Home and End move between the buttons of a table's body, skipping cells without one. */
export function moveFocus(event, buttonSelector) {
  const button = event.target.closest(buttonSelector);
  if (!button) return;
  const cell = button.closest("td");
  const row = cell.parentElement;
  const rows = [...row.parentElement.rows];
  const column = [...row.cells].indexOf(cell);
  const rowIndex = rows.indexOf(row);
  const at = (r, c) => rows[r]?.cells[c]?.querySelector(buttonSelector) || null;
  const walk = (dr, dc) => {
    for (let r = rowIndex + dr, c = column + dc; r >= 0 && r < rows.length && c >= 0 && c < row.cells.length; r += dr, c += dc) {
      const found = at(r, c);
      if (found) return found;
    }
    return null;
  };
  const inRow = [...row.querySelectorAll(buttonSelector)];
  const targets = {
    ArrowRight: () => walk(0, 1),
    ArrowLeft: () => walk(0, -1),
    ArrowDown: () => walk(1, 0),
    ArrowUp: () => walk(-1, 0),
    Home: () => inRow[0],
    End: () => inRow[inRow.length - 1],
  };
  const next = targets[event.key]?.();
  if (next) {
    event.preventDefault();
    next.focus();
  }
}

/** Empties a grid of buttons, saying why in its caption. */
export function clearGrid(table, caption) {
  table.caption.textContent = caption;
  table.tHead.replaceChildren();
  table.tBodies[0].replaceChildren();
  delete table.dataset.asOf;
}

/** Marks the button of a grid whose detail is shown (aria-current), and no other. */
export function markCurrent(table, selector, isCurrent = () => false) {
  for (const button of table.querySelectorAll(selector)) {
    if (isCurrent(button)) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

/** Scrolls an element into view, smoothly unless the reader prefers reduced motion. */
export function reveal(element, block) {
  const reduced = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  element.scrollIntoView({ block, behavior: reduced ? "auto" : "smooth" });
}

/** Date fields change on every keystroke (typing a year passes through 0002, 0020, 0202, ...):
 * `soon` loads once the typing pauses, `now` at once. */
export function loader(load) {
  let pending = null;
  return {
    soon() {
      clearTimeout(pending);
      document.body.dataset.state = "loading";
      pending = setTimeout(load, 350);
    },
    now() {
      clearTimeout(pending);
      return load();
    },
  };
}

/** An as-of date field, its Today button and its form: each change loads (typing: once it pauses). */
export function wireDate({ input, today, form }, loading) {
  input.addEventListener("change", loading.soon);
  today.addEventListener("click", () => {
    input.value = "";
    loading.now();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    loading.now();
  });
}
