// A small typed client over fetch, written against the types that openapi-typescript generates
// from ../../openapi.json (`npm run generate`). `npm run check` (tsc, strict) fails when the API's
// schema changes in a way this code no longer fits: the same thing a real TypeScript consumer hits.

import type { components, operations, paths } from "./generated/stancemap.js";

type Schemas = components["schemas"];
export type Matrix = Schemas["Matrix"];
export type Diff = Schemas["Diff"];
export type Problem = Schemas["Problem"];
export type Stance = Schemas["Stance"];
export type StatementCreate = Schemas["StatementCreate"];
export type StatementPublic = Schemas["StatementPublic"];

type MatrixQuery = NonNullable<paths["/v1/matrix"]["get"]["parameters"]["query"]>;
type DiffQuery = NonNullable<operations["diffs-get"]["parameters"]["query"]>;
// The JSON body of a 200, read from the operation: the same type as Schemas["Matrix"].
type MatrixBody = paths["/v1/matrix"]["get"]["responses"][200]["content"]["application/json"];
type MatrixCsv = paths["/v1/matrix"]["get"]["responses"][200]["content"]["text/csv"];

/** An error response: its RFC 9457 body, typed. */
export class ProblemError extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(`${problem.status} ${problem.title}: ${problem.detail}`);
    this.problem = problem;
  }
}

type QueryValue = string | number | boolean | null | undefined;

function withQuery(path: string, query: Record<string, QueryValue>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== null && value !== undefined) search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

async function readJson<T>(response: Response): Promise<T> {
  if (!response.ok) throw new ProblemError((await response.json()) as Problem);
  return (await response.json()) as T;
}

export class Stancemap {
  readonly baseUrl: string;
  readonly token: string | undefined;

  constructor(baseUrl: string, token?: string) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.token = token;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.token ? { ...extra, Authorization: `Bearer ${this.token}` } : extra;
  }

  /** GET /v1/matrix as JSON. */
  async matrix(query: MatrixQuery = {}): Promise<Matrix> {
    const response = await fetch(this.baseUrl + withQuery("/v1/matrix", { ...query, format: "json" }), {
      headers: this.headers({ Accept: "application/json" }),
    });
    const body: MatrixBody = await readJson<MatrixBody>(response);
    return body;
  }

  /** GET /v1/matrix?format=csv: the CSV alternative of the same operation. */
  async matrixCsv(query: MatrixQuery = {}): Promise<MatrixCsv> {
    const response = await fetch(this.baseUrl + withQuery("/v1/matrix", { ...query, format: "csv" }), {
      headers: this.headers({ Accept: "text/csv" }),
    });
    if (!response.ok) throw new ProblemError((await response.json()) as Problem);
    return response.text();
  }

  /** GET /v1/diff: `from` is a date or `source:<id>`. */
  async diff(query: DiffQuery): Promise<Diff> {
    const response = await fetch(this.baseUrl + withQuery("/v1/diff", { ...query }), { headers: this.headers() });
    return readJson<Diff>(response);
  }

  /** POST /v1/statements (write scope). */
  async createStatement(body: StatementCreate): Promise<StatementPublic> {
    const response = await fetch(`${this.baseUrl}/v1/statements`, {
      method: "POST",
      headers: this.headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
    });
    return readJson<StatementPublic>(response);
  }
}

/** The stance of one cell, or null when the party has no standing statement on the issue. */
export function stanceOf(matrix: Matrix, party: string, issue: string): Stance | null {
  const cell = matrix.cells.find((candidate) => candidate.party === party && candidate.issue === issue);
  return cell?.stance ?? null;
}

/** One line per change, e.g. "russia / security-guarantees: reversed (oppose → lean_support)". */
export function describeChanges(diff: Diff): string[] {
  return diff.changes
    .filter((change) => change.change !== "unchanged")
    .map((change) => {
      const before = change.before?.stance ?? "none";
      const after = change.after?.stance ?? "none";
      return `${change.party} / ${change.issue}: ${change.change} (${before} → ${after}) since ${diff.from.as_of}`;
    });
}

/** Where a quote stands in its source: `text.slice(start, end)` is the quote (code points). */
export function quoteSpan(statement: StatementPublic): [number, number] {
  return [statement.selector.start, statement.selector.end];
}

// The seed data's example, checked against the request schema at compile time.
export const exampleStatement: StatementCreate = {
  party: "russia",
  issue: "security-guarantees",
  source: 1,
  quote: 'Russia conceded that the U.S. "could offer Article 5-like protection',
  stance: "lean_support",
  speaker: "Steve Witkoff",
  stated_on: "2025-08-15",
};

// Compile-time checks of the shapes generated clients rely on.
type Expect<T extends true> = T;
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
export type Checks = [
  Expect<Equal<MatrixBody, Matrix>>,
  Expect<Equal<Stance, "support" | "lean_support" | "neutral" | "lean_oppose" | "oppose" | "unclear">>,
  Expect<Equal<Diff["from"], Schemas["DiffEnd"]>>,
  Expect<Equal<MatrixCsv, string>>,
  Expect<Equal<Problem["closest_passage"], Schemas["ClosestPassage"] | null | undefined>>,
];
