"""AWS Signature V4 query presigning with extra signed headers.

minio's presigner signs only `host`; photofeed also signs `content-type` and `content-length`, so
a presigned PUT accepts exactly the bytes that were announced (S3 and SeaweedFS refuse a request
whose signed headers differ). Pure: no I/O, the clock is an argument.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_EXPIRES_S = 7 * 24 * 3600  # SigV4 presigned URLs live at most a week


def _uri_encode(value: str, safe: str = "-_.~") -> str:
    return quote(value, safe=safe)


def presign_url(
    method: str,
    url: str,
    *,
    region: str,
    access_key: str,
    secret_key: str,
    now: datetime,
    expires_s: int,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    service: str = "s3",
) -> str:
    """`url` (scheme://host[:port]/bucket/key) signed for `method` with `headers` (besides host)
    and `query` included in the signature. The client must send exactly those headers."""
    if not 1 <= expires_s <= MAX_EXPIRES_S:
        raise ValueError(f"expires_s must be 1..{MAX_EXPIRES_S}")
    parts = urlsplit(url)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{now.strftime('%Y%m%d')}/{region}/{service}/aws4_request"
    signed = {"host": parts.netloc, **{k.lower(): v.strip() for k, v in (headers or {}).items()}}
    signed_names = ";".join(sorted(signed))
    params = {
        **(query or {}),
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{access_key}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(expires_s),
        "X-Amz-SignedHeaders": signed_names,
    }
    canonical_query = "&".join(
        f"{_uri_encode(k)}={_uri_encode(v)}" for k, v in sorted(params.items())
    )
    canonical_headers = "".join(f"{k}:{signed[k]}\n" for k in sorted(signed))
    canonical_request = "\n".join(
        [
            method,
            _uri_encode(parts.path or "/", safe="/-_.~"),
            canonical_query,
            canonical_headers,
            signed_names,
            "UNSIGNED-PAYLOAD",
        ]
    )
    to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _signing_key(secret_key, now.strftime("%Y%m%d"), region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    base = f"{parts.scheme}://{parts.netloc}{_uri_encode(parts.path or '/', safe='/-_.~')}"
    return f"{base}?{canonical_query}&X-Amz-Signature={signature}"


def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    k = hmac.new(f"AWS4{secret}".encode(), day.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k
