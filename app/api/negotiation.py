"""Proactive negotiation (RFC 9110 section 12): which media type and which content coding of a
view a request's Accept and Accept-Encoding ask for. Tokens compare case-insensitively; a `q`
weight that cannot be read counts as 0, which accepts nothing."""


def _weight(parameters: str) -> float:
    """The `q` of a list member's parameters (`;charset=utf-8;q=0.5`), 1 when it has none."""
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


def accepts_gzip(accept_encoding: str) -> bool:
    """gzip (or x-gzip) with a non-zero weight, or `*` with one when gzip is not named. `gzip;q=0`
    refuses it. A refusal of `identity` is not honoured: a client that refuses both still gets the
    body as it is, which RFC 9110 allows."""
    named = wildcard = None
    for item in accept_encoding.lower().split(","):
        coding, _, parameters = item.partition(";")
        coding = coding.strip()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        accepted = _weight(parameters) > 0
        if coding == "*":
            wildcard = accepted
        else:
            named = bool(named) or accepted
    return named if named is not None else bool(wildcard)


def media_range_weights(accept: str) -> dict[str, float]:
    """Each media range Accept names (lower-cased, without parameters) with its weight; the
    highest where one is named twice."""
    weights: dict[str, float] = {}
    for item in accept.split(","):
        media_range, _, parameters = item.partition(";")
        name = media_range.strip().lower()
        weights[name] = max(weights.get(name, 0.0), _weight(parameters))
    return weights


# Media ranges matching each representation of a view, the most specific first.
_CSV_RANGES = ("text/csv", "text/*", "*/*")
_JSON_RANGES = ("application/json", "application/*", "*/*")


def _preference(accept: list[tuple[str, float]], ranges: tuple[str, ...]) -> tuple[float, bool]:
    """The weight the most specific matching range gives a representation (0 when none matches),
    and whether its own media type was named."""
    for position, media_range in enumerate(ranges):
        weights = [weight for named, weight in accept if named == media_range]
        if weights:
            return max(weights), position == 0
    return 0.0, False


def prefers_csv(accept: str) -> bool:
    """Whether Accept weighs text/csv over application/json. On equal weights JSON, the default,
    stays, unless the client named text/csv and not application/json (`text/csv, */*`). When
    neither is acceptable the answer is JSON too: RFC 9110 lets a server disregard Accept rather
    than answer 406, and a client asking for something else still gets a readable body."""
    members = []
    for item in accept.split(","):
        media_range, _, parameters = item.partition(";")
        members.append((media_range.strip().lower(), _weight(parameters)))
    csv_weight, csv_named = _preference(members, _CSV_RANGES)
    json_weight, json_named = _preference(members, _JSON_RANGES)
    if csv_weight <= 0:
        return False
    return csv_weight > json_weight or (csv_weight == json_weight and csv_named and not json_named)
