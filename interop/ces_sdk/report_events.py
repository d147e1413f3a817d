"""Report events to a Cloud Eye endpoint with Huawei's official Python SDK, unchanged.

Usage: report_events.py ENDPOINT AK SK PROJECT_ID [EVENT_TIME_MS]
Prints one JSON object: what the SDK returned for each case. The Rust test
mock/tests/ces_sdk_interop.rs runs this against the mock and checks the results.

EVENT_TIME_MS dates the events (default: now) for a mock whose clock is frozen elsewhere; the
SDK still signs every request with this machine's time, as it always does.
"""
import json
import os
import sys
import time

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from huaweicloudsdkcore.auth.credentials import BasicCredentials  # noqa: E402
from huaweicloudsdkcore.exceptions import exceptions  # noqa: E402
from huaweicloudsdkcore.http.http_config import HttpConfig  # noqa: E402
from huaweicloudsdkces.v1 import (  # noqa: E402
    CesClient,
    CreateEventsRequest,
    CreateEventsRequestBody,
    EventItemDetail,
    MetricsDimension,
)


def event(name, at_ms, **detail):
    fields = dict(
        content="The financial system was invaded",
        group_id="rg15221211517051YWWkEnVd",
        resource_id="1234567890sjgggad",
        resource_name="ecs001",
        event_state="normal",
        event_level="Major",
        event_user="xiaokong",
        event_type="EVENT.CUSTOM",
        sub_event_type="SUB_EVENT.CUSTOM",
        dimensions=[MetricsDimension(name="instance_id", value="4270ff17-aba3-4138-89fa-820594c39755")],
    )
    fields.update(detail)
    return CreateEventsRequestBody(
        event_name=name, event_source="financial.System", time=at_ms, detail=EventItemDetail(**fields)
    )


def send(client, events):
    """The SDK's answer, or the fields of the exception it raised."""
    try:
        resp = client.create_events(CreateEventsRequest(body=events))
        return {
            "outcome": "response",
            "status": resp.status_code,
            "events": [{"event_id": e.event_id, "event_name": e.event_name} for e in resp.body],
        }
    except exceptions.ClientRequestException as e:
        return {"outcome": "client_error", "status": e.status_code, "error_code": e.error_code,
                "error_msg": e.error_msg, "request_id": e.request_id}
    except exceptions.ServerResponseException as e:
        return {"outcome": "server_error", "status": e.status_code, "error_code": e.error_code,
                "error_msg": e.error_msg, "request_id": e.request_id}


def main():
    endpoint, ak, sk, project_id = sys.argv[1:5]
    config = HttpConfig.get_default_config()
    config.timeout = (5, 10)
    # No .with_region(): it would point the client at Huawei's public endpoints.
    client = (
        CesClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(ak=ak, sk=sk, project_id=project_id))
        .with_endpoint(endpoint)
        .build()
    )
    now = int(sys.argv[5]) if len(sys.argv) > 5 else int(time.time() * 1000)
    results = {
        "accepted": send(client, [event("systemInvaded", now), event("systemParalysis", now + 20, event_user="xihong")]),
        "duplicate": send(client, [event("systemInvaded", now)]),
        "event_sys": send(client, [event("systemInvaded", now, event_type="EVENT.SYS")]),
        "too_old": send(client, [event("systemInvaded", now - 2 * 3600 * 1000)]),
    }
    wrong_key = (
        CesClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(ak=ak, sk="not-the-secret-key", project_id=project_id))
        .with_endpoint(endpoint)
        .build()
    )
    results["bad_signature"] = send(wrong_key, [event("systemInvaded", now)])
    print(json.dumps(results))


if __name__ == "__main__":
    main()
