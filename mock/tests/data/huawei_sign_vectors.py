#!/usr/bin/env python3
"""Generate SDK-HMAC-SHA256 test vectors with Huawei's official Python SDK.

Run with the interpreter that has `huaweicloudsdkcore` / `huaweicloudsdkces` installed, e.g.
    /tmp/venv-ces/bin/python mock/tests/data/huawei_sign_vectors.py
It writes `huawei_sign_vectors.json` next to this file. Nothing is sent over the network.

Signing goes through the SDK's own path: `BasicCredentials.sign_request` (which adds X-Project-Id and, with
temporary credentials, X-Security-Token) -> `huaweicloudsdkcore.signer.signer.Signer.sign`. The intermediate
canonical request and string-to-sign are captured by wrapping the Signer's own methods (the wrapped methods
run unchanged). The wire form (path, query, headers as sent) comes from `requests` preparing the request the
same way `HttpClient.do_request_sync` does, with a default `requests.Session`.
"""
import json
import os

import requests
from urllib.parse import urlsplit

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.client import Client
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkces.v1 import CreateEventsRequestBody, EventItemDetail, MetricsDimension

PID = "0123456789abcdef0123456789abcdef"
UA = "huaweicloud-usdk-python/3.0; os/Linux; app/00000000-0000-0000-0000-000000000000"

_captured = {}

_orig_sign = Signer.sign
_orig_canonical = Signer._process_canonical_request
_orig_sts = Signer._process_string_to_sign


def _wrap_sign(self, request):
    # Snapshot of what the signer receives (after the credentials added their headers).
    _captured["signer_input_headers"] = list(request.header_params.items())
    return _orig_sign(self, request)


def _wrap_canonical(self, request, signed_headers):
    out = _orig_canonical(self, request, signed_headers)
    _captured["canonical_request"] = out
    _captured["signed_headers"] = list(signed_headers)
    return out


def _wrap_sts(self, canonical_request, t):
    out = _orig_sts(self, canonical_request, t)
    _captured["string_to_sign"] = out
    return out


Signer.sign = _wrap_sign
Signer._process_canonical_request = _wrap_canonical
Signer._process_string_to_sign = _wrap_sts


def ces_body():
    """The CES create_events body serialised exactly as the SDK client does (simplejson, ', ' / ': ')."""
    items = [
        CreateEventsRequestBody(
            event_name="systemInvaded",
            event_source="financial.System",
            time=1795401600000,
            detail=EventItemDetail(
                content="The financial system was invaded \u2014 caf\u00e9",
                resource_id="1234567890sjgggad",
                resource_name="ecs001",
                event_state="normal",
                event_level="Major",
                event_user="xiaokong",
                event_type="EVENT.CUSTOM",
                sub_event_type="SUB_EVENT.CUSTOM",
                dimensions=[MetricsDimension(name="instance_id", value="4270ff17-aba3-4138-89fa-820594c39755")],
            ),
        )
    ]
    return Client._parse_body(items)


def wire_value(v):
    # The SDK stores signed header values as utf-8 bytes decoded as latin-1 (so they go out as utf-8 bytes).
    try:
        return v.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return v


def make_vector(name, *, method, host, resource_path, query_params=None, headers=None, body=None,
                ak="TESTAK0123456789", sk="TESTSK/secret+key=0123456789", date="20261122T024851Z",
                project_id=PID, security_token=None, note=None):
    _captured.clear()
    header_params = {"User-Agent": UA}
    header_params.update(headers or {})
    header_params["X-Sdk-Date"] = date  # a fixed date: the Signer keeps an X-Sdk-Date it is given
    creds = BasicCredentials(ak, sk, project_id)
    if security_token is not None:
        creds.with_security_token(security_token)
    req = SdkRequest(method=method, schema="http", host=host, resource_path=resource_path,
                     query_params=list(query_params or []), header_params=header_params, body=body)
    req = creds.sign_request(req)

    prepared = requests.Session().prepare_request(
        requests.Request(method=req.method, url=req.url, headers=req.header_params, data=req.body))
    parts = urlsplit(prepared.url)
    body_bytes = prepared.body if isinstance(prepared.body, bytes) else (prepared.body or "").encode("utf-8")

    signer_input = [(k, wire_value(v)) for k, v in _captured["signer_input_headers"]
                    if k.lower() != "x-sdk-date"]
    if not any(k.lower() == "host" for k, _ in signer_input):
        signer_input.append(("Host", host))  # the Signer adds Host itself; our Rust sign() expects it present

    return {
        "name": name,
        "note": note,
        "method": prepared.method,
        "path": parts.path,
        "query": parts.query if parts.query else None,
        # Headers exactly as requests would put them on the wire (incl. Accept*, Connection, Content-Length).
        "headers": [[k, wire_value(v)] for k, v in prepared.headers.items()],
        # Headers handed to the Signer (plus Host), i.e. the input of our Rust sign().
        "sign_input_headers": [[k, v] for k, v in signer_input],
        "body": body_bytes.decode("utf-8"),
        "ak": ak,
        "sk": sk,
        "date": date,
        "signed_headers": _captured["signed_headers"],
        "canonical_request": _captured["canonical_request"],
        "string_to_sign": _captured["string_to_sign"],
        "authorization": req.header_params["Authorization"],
    }


def main():
    events = "/V1.0/%s/events" % PID
    vectors = [
        make_vector(
            "ces_create_events",
            method="POST", host="127.0.0.1:18081", resource_path=events,
            headers={"Content-Type": "application/json"}, body=ces_body(),
            note="CES create_events body serialised by huaweicloudsdkcore.client.Client._parse_body"),
        make_vector(
            "ces_create_events_security_token",
            method="POST", host="ces.example.test:8443", resource_path=events,
            headers={"Content-Type": "application/json;charset=UTF-8"}, body=ces_body(),
            security_token="temp-token/with+chars==", date="20260101T000000Z",
            note="temporary credentials: X-Security-Token is added and signed"),
        make_vector(
            "get_query_needs_encoding",
            method="GET", host="localhost:8080", resource_path="/V1.0/%s/event/search" % PID,
            query_params=[("name", "a b~c/d"), ("unicode", "caf\u00e9 \u2603"), ("plus", "x+y"),
                          ("limit", 10), ("empty", ""), ("flag", True), ("star*", "(paren)!'")],
            headers={"Content-Type": "application/json"},
            note="query built by the SDK from tuples; no body so the empty-body hash is used"),
        make_vector(
            "get_query_sort_order_decoded_vs_encoded",
            method="GET", host="127.0.0.1:9", resource_path="/v2/%s/things" % PID,
            query_params=[("a/", "2"), ("a.", "1"), ("a-b", "3"), ("B", "upper"), ("a", "z"), ("a", "y")],
            headers={"Content-Type": "application/json"},
            note="keys sort by their decoded form ('a.' < 'a/') although encoded 'a%2F' < 'a.'"),
        make_vector(
            "put_text_unsigned_payload",
            method="PUT", host="127.0.0.1:18081", resource_path="/v1/%s/objects/my%%20file~v1.txt" % PID,
            headers={"Content-Type": "text/plain"}, body="hello, world\n",
            note="non-JSON content type: the Signer adds X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD"),
        make_vector(
            "delete_empty_body_with_unsigned_payload",
            method="DELETE", host="127.0.0.1:18081", resource_path="/v1/%s/objects/x" % PID,
            headers={"Content-Type": "text/plain"}, body="",
            note="empty body wins over X-Sdk-Content-Sha256: the empty-string hash is signed"),
        make_vector(
            "post_whitespace_underscore_unicode_headers",
            method="POST", host="[::1]:18081", resource_path="/V1.0/%s/events/" % PID,
            headers={"Content-Type": "application/json", "X-Padded": "  padded value\t ",
                     "X_Not_Signed": "underscore names are not signed", "X-Unicode": "na\u00efve \u2603"},
            body=Client._parse_body({"k": "v \u00e9", "list": [1, 2.5, None, True]}),
            note="values are trimmed, names with '_' are skipped, utf-8 header values are signed as utf-8"),
        make_vector(
            "path_segments_normalised",
            method="PATCH", host="127.0.0.1:18081",
            resource_path="/v1/%s/objects/a+b%%7Ec%%3dd,e/%%c3%%a9t%%C3%%A9/%%2Fslash" % PID,
            headers={"Content-Type": "application/json"}, body=Client._parse_body({"op": "rename"}),
            note="the canonical URI unquotes the whole path (also %2F) and re-quotes each segment"),
        make_vector(
            "get_root_path_repeated_int_query",
            method="GET", host="127.0.0.1:18081", resource_path="/",
            query_params=[("ids", 10), ("ids", 9), ("ids", 100)],
            headers={"Content-Type": "application/json"},
            note="repeated key with int values: the SDK sorts the values as ints (9, 10, 100), not as strings"),
    ]
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "huawei_sign_vectors.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"generator": "huaweicloudsdkcore.signer.signer.Signer via BasicCredentials.sign_request",
                   "vectors": vectors}, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print("wrote %d vectors to %s" % (len(vectors), out))


if __name__ == "__main__":
    main()
