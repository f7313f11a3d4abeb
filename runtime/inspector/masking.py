"""Secrets out of recorded requests: headers, URLs and bodies of known shapes, known values.

What is masked: the value of every header, query parameter, JSON key or form field whose name
looks like a credential (`secret_name`), the user and password of a URL, and every
occurrence of a known secret value (an instance's encrypted settings) anywhere. An
Authorization-like header keeps its scheme ("Basic ••••••"), so a reader still sees how the
function authenticates.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, quote_plus, urlsplit, urlunsplit

from catalog.validation import MASK

# Names are judged word by word ("X-Api-Key", "api_key", "apiKey", "APIKEY", "accessToken"):
# a word in SECRET_WORDS or ending like a credential makes the name a credential's.
SECRET_WORDS = frozenset(
    {
        *("auth", "authorization", "bearer", "cookie", "credential", "credentials", "jwt", "otp"),
        *("passwd", "password", "pwd", "secret", "session", "sessionid", "sid", "sig", "signature"),
        *("token", "key", "apikey"),
    }
)
SECRET_SUFFIXES = ("token", "secret", "password", "passwd", "key", "signature", "credentials")
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# A known secret shorter than this is not searched for (it would mask ordinary words).
MIN_SECRET_LEN = 4
MAX_DEPTH = 20


def secret_name(name: str) -> bool:
    """Whether a header, parameter or key of this name holds a credential."""
    for part in re.split(r"[^A-Za-z0-9]+", str(name)):
        words = [part] if part.isupper() or part.islower() else _WORD.findall(part)
        for word in (w.lower() for w in words):
            if word in SECRET_WORDS or word.endswith(SECRET_SUFFIXES):
                return True
    return False


def _secret_values(secrets) -> list[str]:
    values = {str(v) for v in secrets or () if isinstance(v, (str, int)) and len(str(v)) >= MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)  # a longer secret first: it may contain a shorter one


def text_mask(text: str, secrets: list[str]) -> str:
    """`text` with each known secret value replaced."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def header_value_mask(name: str, value: str, secrets: list[str]) -> str:
    if secret_name(name):
        scheme, _, rest = value.partition(" ")
        return f"{scheme} {MASK}" if rest and scheme.isalpha() and len(scheme) <= 12 else MASK
    return text_mask(value, secrets)


def headers_mask(headers, secrets: list[str]) -> list[list[str]]:
    """[[name, value], ...] (from pairs or a dict) with credential values masked."""
    pairs = headers.items() if isinstance(headers, dict) else headers
    out = []
    for name, value in pairs or ():
        values = value if isinstance(value, list) else [value]
        out += [[str(name), header_value_mask(str(name), str(v), secrets)] for v in values]
    return out


def _pairs_encode(pairs, secrets: list[str]) -> str:
    # The mask stays readable (not percent-encoded): the result is for display.
    return "&".join(
        f"{quote_plus(k)}={MASK if secret_name(k) else text_mask(quote_plus(v), secrets)}" for k, v in pairs
    )


def url_mask(url: str, secrets: list[str]) -> str:
    """The URL without user and password, credential-named query values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return text_mask(url, secrets)
    netloc = parts.netloc.rpartition("@")[2] if "@" in parts.netloc else parts.netloc
    query = parts.query
    if query:
        query = _pairs_encode(parse_qsl(query, keep_blank_values=True), secrets)
    return text_mask(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)), secrets)


def json_mask(value, secrets: list[str], depth: int = 0):
    """A JSON value with credential-named keys' scalar values masked and known secrets replaced."""
    if depth > MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {
            k: MASK
            if secret_name(k) and isinstance(v, (str, int, float)) and not isinstance(v, bool)
            else json_mask(v, secrets, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [json_mask(v, secrets, depth + 1) for v in value]
    if isinstance(value, str):
        return text_mask(value, secrets)
    return value


# `"name": "value"` or `"name": 123` in JSON text that does not parse (a body cut at 64 KiB).
_JSON_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)("(?:[^"\\]|\\.)*(?:"|\Z)|-?\d[\d.eE+-]*)')


def _json_text_mask(text: str, secrets: list[str]) -> str:
    def pair(m):
        return f'"{m.group(1)}"{m.group(2)}"{MASK}"' if secret_name(m.group(1)) else m.group(0)

    return text_mask(_JSON_PAIR.sub(pair, text), secrets)


def body_mask(body: str, content_type: str, secrets: list[str]) -> str:
    """A text body masked by its shape: JSON, a form, or plain text (known secrets only)."""
    kind = content_type.split(";")[0].strip().lower()
    if "json" in kind or (not kind and body[:1] in "{["):
        try:
            parsed = json.loads(body)
        except ValueError:
            return _json_text_mask(body, secrets)
        return json.dumps(json_mask(parsed, secrets), ensure_ascii=False)
    if kind == "application/x-www-form-urlencoded":
        return _pairs_encode(parse_qsl(body, keep_blank_values=True), secrets)
    return text_mask(body, secrets)


def request_mask(*, method: str, url: str, headers, body: str, base64: bool, secrets=()) -> dict:
    """One request as the inspector keeps it: {method, url, headers, body}, secrets masked.

    A base64 (binary) body is kept as it is: no known shape to mask in.
    """
    known = _secret_values(secrets)
    pairs = headers_mask(headers, known)
    content_type = next((v for k, v in pairs if k.lower() == "content-type"), "")
    return {
        "method": str(method).upper()[:16],
        "url": url_mask(url, known),
        "headers": pairs,
        "body": body if base64 else body_mask(body, content_type, known),
    }
