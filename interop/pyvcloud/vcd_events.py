"""Post and read Cloud Director events with VMware's pyvcloud, unchanged, over HTTPS.

Usage: vcd_events.py URL CA_FILE ORG USER PASSWORD ORG_ID
Prints one JSON object: what pyvcloud returned or raised for each step. The Rust test
mock/tests/vcloud_pyvcloud_interop.rs runs this against the mock and checks the results.

Only public pyvcloud calls are used: Client (version negotiation from GET /api/versions, or a
fixed api_version), set_credentials (cloudapi or legacy login, then GET /api/session),
post_resource, get_resource, logout, rehydrate_from_token, and the exception classes of
pyvcloud.vcd.exceptions. The event's URL comes from the query answer, as a pyvcloud user would
find it. pyvcloud writes its log (every request and answer) next to CA_FILE; it would otherwise
create vcd_pysdk.log in the working directory.
"""
import json
import os
import sys

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from lxml import etree  # noqa: E402
from pyvcloud.vcd.client import E, BasicLoginCredentials, Client  # noqa: E402
from pyvcloud.vcd.exceptions import VcdException, VcdResponseException  # noqa: E402

EVENT_MEDIA_TYPE = "application/vnd.vmware.admin.event+xml"
EVENT_TYPE = "com/acme/backup/finished"
SERVICE_NAMESPACE = "com.acme.backup"
TYPE_FULL = "Nightly backup of vApp web-01 finished."
UNKNOWN_EVENT = "00000000-0000-4000-8000-000000000000"


def failure(e):
    """The fields of an exception pyvcloud raised."""
    out = {"outcome": "raised", "exception": type(e).__name__, "message": str(e)}
    if isinstance(e, VcdResponseException):
        error = e.vcd_error
        out.update(
            status=e.status_code,
            request_id=e.request_id,
            # An Error XML element (objectify) or, for a cloudapi login, the JSON dict.
            minor_error_code=None if error is None else error.get("minorErrorCode"),
            major_error_code=None if error is None else error.get("majorErrorCode"),
            error_message=None if error is None else error.get("message"),
            error_root=None if error is None or isinstance(error, dict) else error.tag,
        )
    return out


def login(url, ca, log_file, org, user, password, api_version=None):
    """A logged-in client, or the fields of the exception login raised."""
    client = Client(url, api_version=api_version, verify_ssl_certs=ca, log_file=log_file,
                    log_requests=True, log_headers=True, log_bodies=True)
    try:
        client.set_credentials(BasicLoginCredentials(user, org, password))
    except VcdException as e:
        return client, failure(e)
    session = client.get_vcloud_session()
    return client, {
        "outcome": "logged_in",
        "api_version": client.get_api_version(),
        "session_user": session.get("user"),
        "session_org": session.get("org"),
        # Set by a cloudapi login (JWT), absent after a legacy one.
        "bearer": client.get_access_token() is not None,
        "x_vcloud_authorization": client.get_xvcloud_authorization_token() is not None,
    }


def main():
    url, ca, org, user, password, org_id = sys.argv[1:7]
    url = url.rstrip("/")
    log_file = os.path.join(os.path.dirname(os.path.abspath(ca)), "vcd_pysdk.log")
    results = {}

    client, results["login"] = login(url, ca, log_file, org, user, password)
    if results["login"]["outcome"] != "logged_in":
        print(json.dumps(results))
        return

    # The Event as pyvcloud itself builds vCloud documents: its E ElementMaker (namespace
    # http://www.vmware.com/vcloud/v1.5, the default one, plus xsi/xs/ovf declarations).
    event = E.Event(
        E.User(
            href=f"{url}/api/admin/user/007a5dfd-32b4-42dd-813b-bfef3da70cb5",
            name=user,
            type="application/vnd.vmware.admin.user+xml",
        ),
        E.EventProperties(
            E.EventProperty(name="vapp", value="web-01"),
            E.EventProperty(name="bytes", value="1048576"),
        ),
        type=EVENT_TYPE,
        serviceNamespace=SERVICE_NAMESPACE,
        success="true",
        typeFull=TYPE_FULL,
    )
    try:
        answer = client.post_resource(f"{url}/api/admin/org/{org_id}/events", event,
                                      EVENT_MEDIA_TYPE)
        results["post"] = {"outcome": "returned", "none": answer is None}
    except VcdException as e:
        results["post"] = failure(e)

    try:
        records = client.get_resource(f"{url}/api/query?type=event&filter=eventType=={EVENT_TYPE}")
        found = [r for r in records.iterchildren() if r.tag.endswith("}EventRecord")]
        results["query"] = {
            "outcome": "returned",
            "root": records.tag,
            "total": records.get("total"),
            "records": [
                {name: r.get(name) for name in
                 ("href", "id", "eventType", "serviceNamespace", "orgName", "userName",
                  "eventStatus", "description")}
                for r in found
            ],
        }
    except VcdException as e:
        results["query"] = failure(e)
    except etree.XMLSyntaxError as e:
        # pyvcloud reads every answer as XML: an answer in another representation ends here.
        results["query"] = {"outcome": "unparseable", "exception": type(e).__name__,
                            "message": str(e)}

    hrefs = [r["href"] for r in results["query"].get("records", [])]
    if hrefs:
        try:
            audit = client.get_resource(hrefs[0])
            details = audit.Details.text if hasattr(audit, "Details") else None
            results["read"] = {
                "outcome": "returned",
                "root": audit.tag,
                "href": audit.get("href"),
                "id": audit.get("id"),
                "eventType": audit.get("eventType"),
                "serviceNamespace": audit.get("serviceNamespace"),
                "success": audit.get("success"),
                "timeStamp": audit.get("timeStamp"),
                "org_name": audit.Org.get("name"),
                "org_href": audit.Org.get("href"),
                "user_name": audit.User.get("name"),
                "description": audit.Description.text if hasattr(audit, "Description") else None,
                "details": json.loads(details) if details else None,
            }
        except VcdException as e:
            results["read"] = failure(e)

    try:
        unknown = client.get_resource(f"{url}/api/admin/event/{UNKNOWN_EVENT}")
        results["unknown_event"] = {"outcome": "returned", "root": getattr(unknown, "tag", None)}
    except VcdException as e:
        results["unknown_event"] = failure(e)

    token = client.get_access_token()
    try:
        answer = client.logout()
        results["logout"] = {"outcome": "returned", "none": answer is None}
    except VcdException as e:
        results["logout"] = failure(e)
    # The session is gone: its token no longer opens one (pyvcloud's own way to resume a
    # session from a token, through a fresh client).
    stale = Client(url, api_version=results["login"]["api_version"], verify_ssl_certs=ca,
                   log_file=log_file)
    try:
        stale.rehydrate_from_token(token, is_jwt_token=True)
        results["after_logout"] = {"outcome": "returned"}
    except VcdException as e:
        results["after_logout"] = failure(e)

    _, results["wrong_password"] = login(url, ca, log_file, org, user, password + "x")
    for version in ("32.0", "33.0", "35.0"):
        other, results[f"login_{version}"] = login(url, ca, log_file, org, user, password,
                                                   api_version=version)
        if results[f"login_{version}"]["outcome"] == "logged_in":
            other.logout()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
