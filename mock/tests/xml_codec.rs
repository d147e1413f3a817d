//! The XML codec on the VMware Cloud Director representations (AuditEvent, Event, Error): the
//! example documents decode to their JSON form, which validates against the JSON Schema and
//! encodes back to stable XML; hostile documents give typed errors within the decoder's limits, and never panic.

use event_mock::codec::xml::{XmlError, XmlMapping};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};

const NS: &str = "http://www.vmware.com/vcloud/v1.5";
const MAPPING: &str = include_str!("data/xml/vcloud-mapping.json");
const AUDIT_XML: &str = include_str!("data/xml/audit-event.xml");
const AUDIT_JSON: &str = include_str!("data/xml/audit-event.json");
const AUDIT_SCHEMA: &str = include_str!("data/xml/audit-event.schema.json");

fn mapping() -> XmlMapping {
    serde_json::from_str(MAPPING).expect("vcloud-mapping.json is an XmlMapping")
}

fn mapping_from(value: Value) -> XmlMapping {
    let mapping: XmlMapping = serde_json::from_value(value).expect("mapping");
    mapping.check().expect("mapping passes check()");
    mapping
}

fn audit_json() -> Value {
    serde_json::from_str(AUDIT_JSON).expect("audit-event.json")
}

fn decode(xml: &str) -> Result<(String, Value), XmlError> {
    mapping().decode(xml.as_bytes())
}

fn decode_value(xml: &str) -> Value {
    let (_, value) = decode(xml).unwrap_or_else(|e| panic!("decode failed: {e}\n{xml}"));
    value
}

fn encode_text(root: &str, value: &Value) -> String {
    let bytes = mapping()
        .encode(root, value)
        .unwrap_or_else(|e| panic!("encode failed: {e}"));
    String::from_utf8(bytes).expect("encoded XML is UTF-8")
}

fn schema_errors(value: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(AUDIT_SCHEMA).expect("schema JSON");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles");
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// An AuditEvent around `inner` (children), with the given extra root attributes.
fn audit(extra_attributes: &str, inner: &str) -> String {
    format!(
        r#"<AuditEvent xmlns="{NS}" name="n" eventType="e" serviceNamespace="s" timeStamp="2024-03-06T14:11:57Z" success="true"{extra_attributes}><Org href="o"/><User href="u"/>{inner}</AuditEvent>"#
    )
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The mapping itself

#[test]
fn vcloud_mapping_passes_check() {
    mapping().check().expect("vcloud mapping is consistent");
}

#[test]
fn check_catches_an_unknown_type_reference() {
    let m: XmlMapping = serde_json::from_value(json!({
        "namespace": NS,
        "roots": {"AuditEvent": "AuditEventType"},
        "types": {"AuditEventType": {"elements": [{"name": "Org", "type": "RefType"}]}}
    }))
    .unwrap();
    let err = m.check().unwrap_err();
    assert!(
        err.contains("element <Org> refers to unknown type 'RefType'"),
        "{err}"
    );
}

#[test]
fn check_catches_an_unknown_root_type() {
    let m: XmlMapping = serde_json::from_value(json!({
        "namespace": NS, "roots": {"Error": "ErrorType"}, "types": {}
    }))
    .unwrap();
    let err = m.check().unwrap_err();
    assert!(err.contains("root <Error> has type 'ErrorType'"), "{err}");
}

#[test]
fn check_reports_every_problem_at_once() {
    let m: XmlMapping = serde_json::from_value(json!({
        "namespace": "",
        "roots": {"A": "AType"},
        "types": {"AType": {
            "attributes": ["x", {"name": "y", "property": "x"}, "bad name"],
            "elements": [{"name": "B"}, {"name": "B", "property": "b2"}],
            "text": {"property": "value"},
            "ignore_properties": ["value"]
        }},
        "prefixes": {"xmlns": "urn:x"},
        "limits": {"max_depth": 0}
    }))
    .unwrap();
    let err = m.check().unwrap_err();
    for expected in [
        "namespace is empty",
        "property 'x' is mapped twice",
        "attribute 'bad name' is not an XML name",
        "element <B> is listed twice",
        "mixed content",
        "property 'value' is mapped twice",
        "prefix 'xmlns' cannot be declared",
        "every limit must be positive",
    ] {
        assert!(err.contains(expected), "missing '{expected}' in: {err}");
    }
}

#[test]
fn mapping_json_is_strict() {
    let unknown_field = serde_json::from_value::<XmlMapping>(json!({
        "namespace": NS, "roots": {}, "types": {"T": {"attributes": [], "element": []}}
    }));
    assert!(unknown_field.is_err());
    let type_and_scalar = serde_json::from_value::<XmlMapping>(json!({
        "namespace": NS, "roots": {}, "types": {"T": {"elements": [{"name": "A", "type": "T", "scalar": "string"}]}}
    }));
    let err = type_and_scalar.unwrap_err().to_string();
    assert!(err.contains("both a type and a scalar"), "{err}");
    let unknown_scalar = serde_json::from_value::<XmlMapping>(json!({
        "namespace": NS, "roots": {}, "types": {"T": {"attributes": [{"name": "a", "scalar": "date"}]}}
    }));
    assert!(unknown_scalar.is_err());
    let m = mapping();
    assert_eq!(m.limits.max_depth, 64);
    assert_eq!(m.limits.max_attribute_bytes, 1 << 20);
    assert_eq!(m.limits.max_text_bytes, 16 << 20);
    assert_eq!(m.limits.max_nodes, 100_000);
    // An element's property defaults to its name with the first letter lowercased.
    let defaulted: XmlMapping = serde_json::from_value(json!({
        "namespace": NS, "roots": {}, "types": {"T": {"elements": [{"name": "VCloudExtension"}]}}
    }))
    .unwrap();
    assert_eq!(defaulted.types["T"].elements[0].property, "vCloudExtension");
}

// ---------------------------------------------------------------------------------------------
// AuditEvent: the research's synthesized example, both ways

#[test]
fn audit_event_xml_decodes_to_its_json_form() {
    let (root, value) = decode(AUDIT_XML).expect("audit-event.xml decodes");
    assert_eq!(root, "AuditEvent");
    assert_eq!(value, audit_json());
    // Properties come out in mapping order (attributes, then elements), whatever the input order.
    assert_eq!(keys(&value), keys(&audit_json()));
    assert_eq!(keys(&value["link"][0]), ["href", "type", "name", "rel"]);
    assert_eq!(value["success"], json!(true));
}

#[test]
fn audit_event_json_validates_and_a_mis_mapped_property_fails() {
    let value = audit_json();
    assert_eq!(schema_errors(&value), Vec::<String>::new());

    let mut renamed = value.clone();
    let org = renamed.as_object_mut().unwrap().remove("org").unwrap();
    renamed["Org"] = org;
    assert!(!schema_errors(&renamed).is_empty(), "'Org' must not pass");

    let mut stringly = value.clone();
    stringly["success"] = json!("true");
    assert!(
        !schema_errors(&stringly).is_empty(),
        "success must be a boolean"
    );

    let mut bad_time = value;
    bad_time["timeStamp"] = json!("yesterday");
    assert!(
        !schema_errors(&bad_time).is_empty(),
        "timeStamp is a date-time"
    );
}

#[test]
fn audit_event_round_trips_and_encodes_stably() {
    let m = mapping();
    let value = audit_json();
    let first = m.encode("AuditEvent", &value).expect("encode");
    let second = m.encode("AuditEvent", &value).expect("encode again");
    assert_eq!(first, second, "encoding is deterministic");

    let (root, again) = m.decode(&first).expect("decode own output");
    assert_eq!(root, "AuditEvent");
    assert_eq!(again, value);
    assert_eq!(m.encode("AuditEvent", &again).unwrap(), first, "stable XML");

    let text = String::from_utf8(first).unwrap();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AuditEvent xmlns=\"http://www.vmware.com/vcloud/v1.5\" href=\"https://vcd.example.com/api/admin/event/"), "{text}");
    assert!(
        text.contains("<Details>{\"key\":\"value\"}</Details></AuditEvent>"),
        "{text}"
    );
}

#[test]
fn encoding_follows_mapping_order_exactly() {
    // JSON order deliberately scrambled; nulls, empty arrays and JSON-only properties dropped.
    let value = json!({
        "user": {"name": "U", "href": "h2", "otherAttributes": {}},
        "success": false,
        "vCloudExtension": [],
        "org": {"href": "h1"},
        "owner": null,
        "link": [{"rel": "up", "href": "l1"}, {"href": "l2", "rel": "down", "type": "t"}],
        "tasks": null,
        "details": "",
        "name": "n",
        "timeStamp": "t",
        "eventType": "e",
        "otherAttributes": {},
        "serviceNamespace": "s",
        "description": "a < b & c > d \"q\""
    });
    assert_eq!(
        encode_text("AuditEvent", &value),
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
            "<AuditEvent xmlns=\"http://www.vmware.com/vcloud/v1.5\" name=\"n\" eventType=\"e\" ",
            "serviceNamespace=\"s\" timeStamp=\"t\" success=\"false\">",
            "<Link href=\"l1\" rel=\"up\"/><Link href=\"l2\" type=\"t\" rel=\"down\"/>",
            "<Description>a &lt; b &amp; c &gt; d \"q\"</Description>",
            "<Org href=\"h1\"/><User href=\"h2\" name=\"U\"/><Details/></AuditEvent>"
        )
    );
    let empty_links = json!({"name": "n", "link": [], "org": {"href": "o"}});
    assert_eq!(
        encode_text("AuditEvent", &empty_links),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AuditEvent xmlns=\"http://www.vmware.com/vcloud/v1.5\" name=\"n\"><Org href=\"o\"/></AuditEvent>"
    );
}

#[test]
fn research_json_form_with_nulls_and_extensions_validates_and_encodes() {
    // B5's JSON example: explicit nulls, empty otherAttributes / vCloudExtension / link.
    let full = json!({
        "otherAttributes": {}, "link": [],
        "href": "https://vcd.example.com/api/admin/event/3c1f4f0e-9a55-4b7e-8f0c-0d1b2c3d4e5f",
        "type": "application/vnd.vmware.admin.event+json",
        "id": "urn:vcloud:event:3c1f4f0e-9a55-4b7e-8f0c-0d1b2c3d4e5f", "operationKey": null,
        "description": "Description of the event.", "tasks": null, "name": "MyEventType",
        "org": {"otherAttributes": {}, "href": "https://vcd.example.com/api/org/7b832bc5-3d65-45a2-8d35-da28388ab80a",
                "id": "urn:vcloud:org:7b832bc5-3d65-45a2-8d35-da28388ab80a",
                "type": "application/vnd.vmware.vcloud.org+xml", "name": "Default", "vCloudExtension": []},
        "owner": null,
        "user": {"otherAttributes": {}, "href": "https://vcd.example.com/api/admin/user/007a5dfd-32b4-42dd-813b-bfef3da70cb5",
                 "id": "urn:vcloud:user:007a5dfd-32b4-42dd-813b-bfef3da70cb5",
                 "type": "application/vnd.vmware.admin.user+xml", "name": "User", "vCloudExtension": []},
        "details": "{\"key\":\"value\"}", "eventType": "MyEventType",
        "serviceNamespace": "myServiceNamespace", "timeStamp": "2024-03-06T14:11:57.473+02:00",
        "success": true, "vCloudExtension": []
    });
    assert_eq!(schema_errors(&full), Vec::<String>::new());
    let xml = mapping().encode("AuditEvent", &full).expect("encode");
    let (_, decoded) = mapping().decode(&xml).expect("decode");
    let mut expected = audit_json();
    let obj = expected.as_object_mut().unwrap();
    obj.remove("link");
    obj.remove("owner");
    obj["type"] = json!("application/vnd.vmware.admin.event+json");
    assert_eq!(decoded, expected);
}

#[test]
fn nested_tasks_round_trip() {
    let xml = audit(
        "",
        r#"<Tasks><Task status="running" operation="op" startTime="2024-03-06T14:11:57Z" cancelRequested="0">
             <Owner href="t-owner"/><User href="t-user"/><Progress> 40 </Progress>
             <Tasks><Task status="queued"><Error message="m" majorErrorCode="500"/></Task></Tasks>
           </Task><Task status="success"/></Tasks>"#,
    );
    let value = decode_value(&xml);
    assert_eq!(
        value["tasks"],
        json!({"task": [
            {"status": "running", "operation": "op", "startTime": "2024-03-06T14:11:57Z", "cancelRequested": false,
             "tasks": {"task": [{"status": "queued", "error": {"message": "m", "majorErrorCode": 500}}]},
             "owner": {"href": "t-owner"}, "user": {"href": "t-user"}, "progress": 40},
            {"status": "success"}
        ]})
    );
    assert_eq!(
        keys(&value["tasks"]["task"][0]),
        [
            "status",
            "operation",
            "startTime",
            "cancelRequested",
            "tasks",
            "owner",
            "user",
            "progress"
        ]
    );
    assert_eq!(schema_errors(&value), Vec::<String>::new());
    let again = mapping()
        .decode(&mapping().encode("AuditEvent", &value).unwrap())
        .unwrap()
        .1;
    assert_eq!(again, value);
}

#[test]
fn text_is_verbatim_and_escapes_round_trip() {
    let xml = audit(
        r#" href="a&amp;b&lt;&quot;&apos;&#x263A;&#10;x	y""#,
        "<!-- a comment --><?some-pi data?><Description>  two\r\n lines &amp; <![CDATA[<raw> & ]]>&#13;&#9;end  </Description>",
    );
    let value = decode_value(&xml);
    // Literal tab in an attribute is normalised to a space; the character reference survives.
    assert_eq!(value["href"], json!("a&b<\"'\u{263A}\nx y"));
    // Text of a string element is not trimmed; CRLF becomes LF, &#13; stays CR.
    assert_eq!(
        value["description"],
        json!("  two\n lines & <raw> & \r\tend  ")
    );
    let encoded = mapping().encode("AuditEvent", &value).unwrap();
    assert_eq!(mapping().decode(&encoded).unwrap().1, value);
    let text = String::from_utf8(encoded).unwrap();
    assert!(
        text.contains(r#"href="a&amp;b&lt;&quot;&apos;☺&#10;x y""#),
        "{text}"
    );
    assert!(
        text.contains(
            "<Description>  two\n lines &amp; &lt;raw&gt; &amp; &#13;\tend  </Description>"
        ),
        "{text}"
    );
}

#[test]
fn scalars_are_typed() {
    for (text, expected) in [
        ("true", true),
        ("false", false),
        ("1", true),
        ("0", false),
        (" true\n", true),
    ] {
        let value = decode_value(
            &audit("", "").replace(r#"success="true""#, &format!(r#"success="{text}""#)),
        );
        assert_eq!(value["success"], json!(expected), "success={text:?}");
    }
    let err = decode(&format!(
        r#"<Error xmlns="{NS}" message="m" majorErrorCode="4o3"/>"#
    ))
    .unwrap_err();
    assert_eq!(
        err,
        XmlError::BadScalar {
            path: "/Error/@majorErrorCode".into(),
            expected: "integer",
            found: "4o3".into()
        }
    );
    let number: XmlMapping = mapping_from(json!({
        "namespace": NS, "roots": {"M": "M"},
        "types": {"M": {"elements": [{"name": "N", "property": "n", "scalar": "number", "repeated": true},
                                      {"name": "J", "property": "j", "scalar": "json"}]}}
    }));
    let xml = format!(
        r#"<M xmlns="{NS}"><N>3</N><N> 2.5 </N><N>-1e3</N><J> {{"a": [1, null]}} </J></M>"#
    );
    let (_, value) = number.decode(xml.as_bytes()).unwrap();
    assert_eq!(
        value,
        json!({"n": [3, 2.5, -1000.0], "j": {"a": [1, null]}})
    );
    assert_eq!(
        number
            .decode(number.encode("M", &value).unwrap().as_slice())
            .unwrap()
            .1,
        value
    );
    let inf = format!(r#"<M xmlns="{NS}"><N>inf</N></M>"#);
    assert!(matches!(
        number.decode(inf.as_bytes()),
        Err(XmlError::BadScalar {
            expected: "number",
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// Event (posted) and Error

#[test]
fn posted_event_with_prefixed_names_decodes() {
    // B1's example request body, prefixed form.
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?><vcloud:Event
    xmlns:vcloud="http://www.vmware.com/vcloud/v1.5"
    serviceNamespace="myServiceNamespace" success="true"
    type="MyEventType" typeFull="Description of the event.">
    <vcloud:Owner href="https://vcloud.example.com/api/org/7b832bc5-3d65-45a2-8d35-da28388ab80a" name="Default" type="application/vnd.vmware.vcloud.org+xml"/>
    <vcloud:User href="https://vcloud.example.com/api/admin/user/007a5dfd-32b4-42dd-813b-bfef3da70cb5" name="User" type="application/vnd.vmware.admin.user+xml"/>
</vcloud:Event>"#;
    let (root, value) = decode(xml).expect("posted Event decodes");
    assert_eq!(root, "Event");
    assert_eq!(
        value,
        json!({
            "type": "MyEventType", "serviceNamespace": "myServiceNamespace", "success": true,
            "typeFull": "Description of the event.",
            "owner": {"href": "https://vcloud.example.com/api/org/7b832bc5-3d65-45a2-8d35-da28388ab80a",
                      "type": "application/vnd.vmware.vcloud.org+xml", "name": "Default"},
            "user": {"href": "https://vcloud.example.com/api/admin/user/007a5dfd-32b4-42dd-813b-bfef3da70cb5",
                     "type": "application/vnd.vmware.admin.user+xml", "name": "User"}
        })
    );
    // The same event, unprefixed, encoded by us, decodes to the same value.
    let ours = mapping().encode("Event", &value).unwrap();
    assert_eq!(mapping().decode(&ours).unwrap(), (root, value));
}

#[test]
fn event_properties_are_an_array_under_event_properties() {
    let xml = format!(
        r#"<v:Event xmlns:v="{NS}" type="T" serviceNamespace="S" success="0"><v:EventProperties>
             <v:EventProperty name="a" value="1"/><EventProperty xmlns="{NS}" name="b" value=""/>
           </v:EventProperties></v:Event>"#
    );
    assert_eq!(
        decode_value(&xml),
        json!({"type": "T", "serviceNamespace": "S", "success": false,
               "eventProperties": {"eventProperty": [{"name": "a", "value": "1"}, {"name": "b", "value": ""}]}})
    );
}

#[test]
fn error_renders_exactly() {
    let value = json!({
        "otherAttributes": {}, "vCloudExtension": [], "stackTrace": null, "tenantError": null,
        "minorErrorCode": "ACCESS_TO_RESOURCE_IS_FORBIDDEN", "majorErrorCode": 403,
        "message": "No access to entity \"(com.vmware.vcloud.entity.event:3c1f4f0e-9a55-4b7e-8f0c-0d1b2c3d4e5f)\".",
        "vendorSpecificErrorCode": null
    });
    let bytes = mapping().encode("Error", &value).unwrap();
    assert_eq!(
        String::from_utf8(bytes.clone()).unwrap(),
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
            "<Error xmlns=\"http://www.vmware.com/vcloud/v1.5\" ",
            "message=\"No access to entity &quot;(com.vmware.vcloud.entity.event:3c1f4f0e-9a55-4b7e-8f0c-0d1b2c3d4e5f)&quot;.\" ",
            "majorErrorCode=\"403\" minorErrorCode=\"ACCESS_TO_RESOURCE_IS_FORBIDDEN\"/>"
        )
    );
    let (root, decoded) = mapping().decode(&bytes).unwrap();
    assert_eq!(root, "Error");
    assert_eq!(
        decoded,
        json!({"message": value["message"], "majorErrorCode": 403, "minorErrorCode": "ACCESS_TO_RESOURCE_IS_FORBIDDEN"})
    );
    let with_tenant = json!({"message": "m", "majorErrorCode": 400, "tenantError": {"message": "t", "majorErrorCode": 400}});
    assert_eq!(
        encode_text("Error", &with_tenant),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error xmlns=\"http://www.vmware.com/vcloud/v1.5\" message=\"m\" majorErrorCode=\"400\"><TenantError message=\"t\" majorErrorCode=\"400\"/></Error>"
    );
}

#[test]
fn error_406_example_with_xsi_attributes_decodes() {
    // B2's real 406 body: xmlns:xsi and xsi:schemaLocation are ignored.
    let xml = r#"<Error xmlns="http://www.vmware.com/vcloud/v1.5" minorErrorCode="NOT_ACCEPTABLE"
    message="The request has invalid accept header. Supported API versions are: [1.5, 5.1, 5.5]"
    majorErrorCode="406" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="http://www.vmware.com/vcloud/v1.5 http://HOST/api/v1.5/schema/master.xsd"></Error>"#;
    assert_eq!(
        decode(xml).unwrap(),
        (
            "Error".to_owned(),
            json!({"message": "The request has invalid accept header. Supported API versions are: [1.5, 5.1, 5.5]",
                   "majorErrorCode": 406, "minorErrorCode": "NOT_ACCEPTABLE"})
        )
    );
}

#[test]
fn simple_content_types_and_prefixes() {
    let m = mapping_from(json!({
        "namespace": "urn:a",
        "prefixes": {"xsi": "http://www.w3.org/2001/XMLSchema-instance", "b": "urn:b"},
        "roots": {"Root": "RootType"},
        "types": {
            "RootType": {"elements": [{"name": "Tag", "property": "tags", "repeated": true, "type": "TagType"}]},
            "TagType": {"attributes": [{"name": "weight", "scalar": "integer"}], "text": {"property": "value"}}
        }
    }));
    let value = json!({"tags": [{"weight": 2, "value": "x & y"}, {"value": ""}]});
    let bytes = m.encode("Root", &value).unwrap();
    assert_eq!(
        String::from_utf8(bytes.clone()).unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Root xmlns=\"urn:a\" xmlns:b=\"urn:b\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><Tag weight=\"2\">x &amp; y</Tag><Tag/></Root>"
    );
    assert_eq!(m.decode(&bytes).unwrap().1, value);
    let bad = r#"<Root xmlns="urn:a"><Tag><Tag/></Tag></Root>"#;
    assert_eq!(
        m.decode(bad.as_bytes()).unwrap_err(),
        XmlError::UnknownElement {
            path: "/Root/Tag".into(),
            name: "Tag".into()
        }
    );
}

#[test]
fn encode_refuses_what_the_mapping_cannot_render() {
    let m = mapping();
    let cases = [
        (
            "AuditEvent",
            json!({"name": "n", "extra": 1}),
            "/AuditEvent",
            "property 'extra'",
        ),
        (
            "AuditEvent",
            json!({"success": "true"}),
            "/AuditEvent/@success",
            "expected a boolean value, found a string",
        ),
        (
            "AuditEvent",
            json!({"org": "o"}),
            "/AuditEvent/Org",
            "expected an object",
        ),
        (
            "AuditEvent",
            json!({"link": {"href": "h"}}),
            "/AuditEvent/Link",
            "expected an array",
        ),
        (
            "AuditEvent",
            json!({"link": [null]}),
            "/AuditEvent/Link",
            "found null",
        ),
        (
            "AuditEvent",
            json!({"description": "bell \u{7}"}),
            "/AuditEvent/Description",
            "U+0007",
        ),
        (
            "Error",
            json!({"majorErrorCode": 4.5}),
            "/Error/@majorErrorCode",
            "expected a integer value",
        ),
        ("Error", json!([]), "/Error", "expected an object"),
    ];
    for (root, value, path, reason) in cases {
        match m.encode(root, &value) {
            Err(XmlError::Unmappable { path: p, reason: r }) => {
                assert_eq!(p, path, "{value}");
                assert!(r.contains(reason), "{value}: {r}");
            }
            other => panic!("{value}: expected Unmappable, got {other:?}"),
        }
    }
    assert_eq!(
        m.encode("Session", &json!({})),
        Err(XmlError::UnknownRoot("Session".into()))
    );
}

#[test]
fn encode_refuses_values_nested_deeper_than_the_limit() {
    let mut value = json!({"status": "s"});
    for _ in 0..40 {
        value = json!({"status": "s", "tasks": {"task": [value]}});
    }
    let top = json!({"name": "n", "tasks": {"task": [value]}});
    assert_eq!(
        mapping().encode("AuditEvent", &top),
        Err(XmlError::TooDeep { limit: 64 })
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile input

/// Run one hostile case. Its cost is bounded by the decoder's limits (depth, nodes, sizes),
/// which each case asserts through the typed error it expects; time is not asserted here
/// (machines are noisy), it is measured by the benchmarks.
fn hostile<T>(_what: &str, f: impl FnOnce() -> T) -> T {
    f()
}

#[test]
fn hostile_malformed_documents() {
    for xml in [
        format!(r#"<AuditEvent xmlns="{NS}"><Org></AuditEvent>"#),
        format!(r#"<AuditEvent xmlns="{NS}" name="n" name="m"/>"#),
        format!(r#"<AuditEvent xmlns="{NS}" name=n/>"#),
        format!(r#"<AuditEvent xmlns="{NS}" name="a<b"/>"#),
        format!(r#"</AuditEvent><AuditEvent xmlns="{NS}"/>"#),
        format!(r#"<AuditEvent xmlns="{NS}"><x:Org/></AuditEvent>"#),
        format!(r#"<AuditEvent xmlns="{NS}"><Description>&#0;</Description></AuditEvent>"#),
        format!(r#"<AuditEvent xmlns="{NS}"><Description>a &amp b</Description></AuditEvent>"#),
        format!("<AuditEvent xmlns=\"{NS}\"><Description>bell \u{7}</Description></AuditEvent>"),
        format!(r#"text<AuditEvent xmlns="{NS}"/>"#),
        format!(r#" <?xml version="1.0"?><AuditEvent xmlns="{NS}"/>"#),
        format!(r#"<AuditEvent xmlns="{NS}" xmlns:xml="urn:not-xml"/>"#),
    ] {
        assert!(
            matches!(decode(&xml), Err(XmlError::Malformed(_))),
            "{xml}: {:?}",
            decode(&xml)
        );
    }
}

#[test]
fn hostile_billion_laughs_is_refused_as_doctype() {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    xml.push_str(" <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n");
    for i in 2..=9 {
        let p = format!("&lol{};", i - 1).repeat(10);
        xml.push_str(&format!(" <!ENTITY lol{i} \"{p}\">\n"));
    }
    xml.push_str(&format!("]>\n<AuditEvent xmlns=\"{NS}\" name=\"&lol9;\"><Description>&lol9;</Description></AuditEvent>"));
    assert_eq!(
        hostile("billion laughs", || decode(&xml)),
        Err(XmlError::Doctype)
    );
}

#[test]
fn hostile_external_entity_is_refused_as_doctype() {
    let xml = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><AuditEvent xmlns=\"{NS}\" name=\"&e;\"/>"
    );
    assert_eq!(decode(&xml), Err(XmlError::Doctype));
    assert_eq!(
        decode(&format!(
            "<!DOCTYPE AuditEvent><AuditEvent xmlns=\"{NS}\"/>"
        )),
        Err(XmlError::Doctype)
    );
}

#[test]
fn hostile_undefined_entities() {
    let in_attribute = format!(r#"<AuditEvent xmlns="{NS}" name="&foo;"/>"#);
    assert_eq!(
        decode(&in_attribute),
        Err(XmlError::UnknownEntity("foo".into()))
    );
    let in_text = audit("", "<Description>x &nbsp; y</Description>");
    assert_eq!(
        decode(&in_text),
        Err(XmlError::UnknownEntity("nbsp".into()))
    );
}

#[test]
fn hostile_wrong_namespace() {
    assert_eq!(
        decode(r#"<AuditEvent xmlns="http://www.vmware.com/vcloud/v1.0"/>"#),
        Err(XmlError::WrongNamespace {
            element: "AuditEvent".into(),
            expected: NS.into(),
            found: "http://www.vmware.com/vcloud/v1.0".into()
        })
    );
    assert_eq!(
        decode("<AuditEvent name=\"n\"/>"),
        Err(XmlError::WrongNamespace {
            element: "AuditEvent".into(),
            expected: NS.into(),
            found: String::new()
        })
    );
    let child = audit("", r#"<x:Owner xmlns:x="urn:other" href="h"/>"#);
    assert_eq!(
        decode(&child),
        Err(XmlError::WrongNamespace {
            element: "Owner".into(),
            expected: NS.into(),
            found: "urn:other".into()
        })
    );
    let unset_default = audit("", r#"<Owner xmlns="" href="h"/>"#);
    assert!(matches!(
        decode(&unset_default),
        Err(XmlError::WrongNamespace { .. })
    ));
    let foreign_attribute = audit(
        r#" xmlns:v="http://www.vmware.com/vcloud/v1.5" v:href="h""#,
        "",
    );
    assert_eq!(
        decode(&foreign_attribute),
        Err(XmlError::UnknownAttribute {
            path: "/AuditEvent".into(),
            name: "v:href".into()
        })
    );
}

#[test]
fn hostile_unknown_names() {
    assert_eq!(
        decode(&format!(r#"<Session xmlns="{NS}"/>"#)),
        Err(XmlError::UnknownRoot("Session".into()))
    );
    assert_eq!(
        decode(&audit("", "<Org2/>")),
        Err(XmlError::UnknownElement {
            path: "/AuditEvent".into(),
            name: "Org2".into()
        })
    );
    assert_eq!(
        decode(&audit("", "<Description><b>bold</b></Description>")),
        Err(XmlError::UnknownElement {
            path: "/AuditEvent/Description".into(),
            name: "b".into()
        })
    );
    assert_eq!(
        decode(&audit("", r#"<Owner href="h" rel="up"/>"#)),
        Err(XmlError::UnknownAttribute {
            path: "/AuditEvent/Owner".into(),
            name: "rel".into()
        })
    );
    assert_eq!(
        decode(&audit("", r#"<Description lang="en">x</Description>"#)),
        Err(XmlError::UnknownAttribute {
            path: "/AuditEvent/Description".into(),
            name: "lang".into()
        })
    );
}

#[test]
fn hostile_huge_names_give_short_errors() {
    let long = "b".repeat(1 << 20);
    match decode(&format!(r#"<{long} xmlns="{NS}"/>"#)) {
        Err(XmlError::UnknownRoot(name)) => assert_eq!(name.chars().count(), 65),
        other => panic!("{:?}", other.map(|_| ())),
    }
    match decode(&audit("", &format!("<Description>x</{long}>"))) {
        Err(XmlError::Malformed(message)) => {
            assert!(message.len() < 400, "{} bytes", message.len())
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    match decode(&audit("", &format!("<Description>&{long};</Description>"))) {
        Err(XmlError::UnknownEntity(name)) => assert_eq!(name.chars().count(), 65),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn hostile_bad_boolean() {
    let xml = audit("", "").replace(r#"success="true""#, r#"success="yes""#);
    assert_eq!(
        decode(&xml),
        Err(XmlError::BadScalar {
            path: "/AuditEvent/@success".into(),
            expected: "boolean",
            found: "yes".into()
        })
    );
    let long = audit("", "").replace(
        r#"success="true""#,
        &format!(r#"success="{}""#, "y".repeat(1000)),
    );
    match decode(&long) {
        Err(XmlError::BadScalar { found, .. }) => {
            assert_eq!(found.chars().count(), 65, "quoted value is shortened")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostile_duplicates_and_stray_text() {
    assert_eq!(
        decode(&audit(
            "",
            "<Description>a</Description><Description>b</Description>"
        )),
        Err(XmlError::Duplicate {
            path: "/AuditEvent".into(),
            name: "Description".into()
        })
    );
    assert_eq!(
        decode(&audit("", r#"<Org href="again"/>"#)),
        Err(XmlError::Duplicate {
            path: "/AuditEvent".into(),
            name: "Org".into()
        })
    );
    assert_eq!(
        decode(&audit("", "stray")),
        Err(XmlError::UnexpectedText {
            path: "/AuditEvent".into()
        })
    );
    assert_eq!(
        decode(&audit("", "<Org2/>").replace("<Org2/>", "<Owner>&#32;</Owner>")),
        Err(XmlError::UnexpectedText {
            path: "/AuditEvent/Owner".into()
        })
    );
    assert_eq!(
        decode(&audit("", "<![CDATA[x]]>")),
        Err(XmlError::UnexpectedText {
            path: "/AuditEvent".into()
        })
    );
}

#[test]
fn hostile_second_root_or_trailing_text() {
    let two_roots = format!("{}<Error xmlns=\"{NS}\" message=\"m\"/>", audit("", ""));
    assert_eq!(decode(&two_roots), Err(XmlError::TrailingContent));
    assert_eq!(
        decode(&format!("{}\ntrailing", audit("", ""))),
        Err(XmlError::TrailingContent)
    );
    // Whitespace, comments and processing instructions after the root are fine.
    assert!(decode(&format!("{}\n<!-- end -->\n<?pi x?>\n", audit("", ""))).is_ok());
}

#[test]
fn hostile_truncated_documents() {
    let end = AUDIT_XML.rfind('>').unwrap() + 1;
    for cut in 0..end {
        let result = mapping().decode(&AUDIT_XML.as_bytes()[..cut]);
        assert!(
            result.is_err(),
            "a document cut at byte {cut} must not decode"
        );
    }
    assert_eq!(decode(""), Err(XmlError::Empty));
    assert_eq!(
        decode("<?xml version=\"1.0\"?>\n<!-- nothing -->\n"),
        Err(XmlError::Empty)
    );
    assert!(
        matches!(decode(&AUDIT_XML[..AUDIT_XML.find("<Org").unwrap()]), Err(XmlError::Malformed(m)) if m.contains("/AuditEvent is not closed"))
    );
    assert!(matches!(
        decode(&AUDIT_XML[..AUDIT_XML.find("<Org").unwrap() + 10]),
        Err(XmlError::Malformed(_))
    ));
}

#[test]
fn hostile_non_utf8() {
    let mut latin1 = audit("", "<Description>caf</Description>").into_bytes();
    let at = latin1.windows(4).position(|w| w == b"caf<").unwrap() + 3;
    latin1.insert(at, 0xE9);
    assert_eq!(mapping().decode(&latin1), Err(XmlError::NotUtf8));
    assert_eq!(
        mapping().decode(b"<AuditEvent \xff\xfe/>"),
        Err(XmlError::NotUtf8)
    );
    let utf16: Vec<u8> = "\u{feff}<Error/>"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert_eq!(mapping().decode(&utf16), Err(XmlError::NotUtf8));
    let declared = format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>{}",
        audit("", "")
    );
    assert_eq!(decode(&declared), Err(XmlError::NotUtf8));
    // A UTF-8 byte order mark is fine.
    assert!(decode(&format!("\u{feff}{}", audit("", ""))).is_ok());
}

#[test]
fn hostile_100k_nested_elements_are_too_deep_quickly() {
    // Tasks/Task nest legitimately, so only the depth limit stops this.
    let mut xml = audit("", "").replace("</AuditEvent>", "");
    xml.push_str(&"<Tasks><Task status=\"s\">".repeat(50_000));
    xml.push_str(&"</Task></Tasks>".repeat(50_000));
    xml.push_str("</AuditEvent>");
    assert_eq!(
        hostile("100k nested", || decode(&xml)),
        Err(XmlError::TooDeep { limit: 64 })
    );

    let unclosed = format!(
        "<AuditEvent xmlns=\"{NS}\">{}",
        "<Tasks><Task>".repeat(50_000)
    );
    assert_eq!(
        hostile("100k unclosed", || decode(&unclosed)),
        Err(XmlError::TooDeep { limit: 64 })
    );

    // A self-recursive type with a tighter limit: depth is counted from the root.
    let m = mapping_from(json!({
        "namespace": NS, "roots": {"N": "N"}, "limits": {"max_depth": 3},
        "types": {"N": {"elements": [{"name": "N", "property": "n", "type": "N"}]}}
    }));
    let ok = format!(r#"<N xmlns="{NS}"><N><N/></N></N>"#);
    assert_eq!(m.decode(ok.as_bytes()).unwrap().1, json!({"n": {"n": {}}}));
    let deep = format!(r#"<N xmlns="{NS}"><N><N><N/></N></N></N>"#);
    assert_eq!(
        m.decode(deep.as_bytes()),
        Err(XmlError::TooDeep { limit: 3 })
    );
}

#[test]
fn hostile_10mb_attribute_is_too_large_quickly() {
    let big = "a".repeat(10 << 20);
    let limit = 1 << 20;
    for xml in [
        format!(r#"<AuditEvent xmlns="{NS}" name="{big}"/>"#),
        format!(r#"<AuditEvent xmlns="{NS}" unknown="{big}"/>"#),
        format!(r#"<AuditEvent xmlns="{NS}" xmlns:p="{big}"/>"#),
    ] {
        assert_eq!(
            hostile("10 MB attribute", || decode(&xml)),
            Err(XmlError::TooLarge {
                what: "bytes in an attribute value",
                limit
            })
        );
    }
}

#[test]
fn hostile_large_text_many_nodes_many_attributes() {
    let m = mapping_from(json!({
        "namespace": NS, "roots": {"R": "R"},
        "limits": {"max_text_bytes": 1000, "max_nodes": 500, "max_attributes": 8, "max_namespace_declarations": 4},
        "types": {"R": {"attributes": ["a"], "elements": [
            {"name": "T", "property": "t"}, {"name": "I", "property": "i", "repeated": true, "type": "I"}]},
            "I": {}}
    }));
    let text = format!(r#"<R xmlns="{NS}"><T>{}</T></R>"#, "x&amp;".repeat(600));
    assert_eq!(
        m.decode(text.as_bytes()),
        Err(XmlError::TooLarge {
            what: "bytes of text in one element",
            limit: 1000
        })
    );
    let nodes = format!(r#"<R xmlns="{NS}">{}</R>"#, "<I/>".repeat(1000));
    assert_eq!(
        m.decode(nodes.as_bytes()),
        Err(XmlError::TooLarge {
            what: "elements and attributes",
            limit: 500
        })
    );
    let attributes: String = (0..20).map(|i| format!(r#" xsi:a{i}="v""#)).collect();
    let xml = format!(
        r#"<R xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"{attributes}/>"#
    );
    assert_eq!(
        m.decode(xml.as_bytes()),
        Err(XmlError::TooLarge {
            what: "attributes on one element",
            limit: 8
        })
    );
    let declarations = format!(
        r#"<R xmlns="{NS}"><I xmlns:a="urn:a" xmlns:b="urn:b"/><I xmlns:c="urn:c" xmlns:d="urn:d"/></R>"#
    );
    assert_eq!(
        m.decode(declarations.as_bytes()),
        Err(XmlError::TooLarge {
            what: "namespace declarations",
            limit: 4
        })
    );

    // The default mapping, with 100,000 attributes on one element and many elements: still quick.
    let many: String = (0..100_000).map(|i| format!(r#" xsi:a{i}="v""#)).collect();
    let xml = format!(
        r#"<AuditEvent xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"{many}/>"#
    );
    assert!(matches!(
        hostile("100k attributes", || decode(&xml)),
        Err(XmlError::TooLarge { .. })
    ));
    let links = audit("", &r#"<Link href="h" rel="r"/>"#.repeat(60_000));
    assert!(matches!(
        hostile("60k links", || decode(&links)),
        Err(XmlError::TooLarge { .. })
    ));
}

#[test]
fn random_mutations_never_panic() {
    let m = mapping();
    let seed = AUDIT_XML.as_bytes();
    let mut rng = StdRng::seed_from_u64(0x5eed_0002);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..5_000 {
        let mut doc = seed.to_vec();
        for _ in 0..rng.gen_range(1..=4) {
            match rng.gen_range(0..4) {
                0 => {
                    let i = rng.gen_range(0..doc.len());
                    doc[i] ^= 1 << rng.gen_range(0..8);
                }
                1 => {
                    let i = rng.gen_range(0..doc.len());
                    const SPECIAL: &[u8] = b"<>&;/\"'=!?[]x \xff";
                    doc[i] = SPECIAL[rng.gen_range(0..SPECIAL.len())];
                }
                2 => {
                    let cut = rng.gen_range(0..=doc.len());
                    doc.truncate(cut);
                }
                _ => {
                    let start = rng.gen_range(0..doc.len());
                    let end = rng.gen_range(start..=doc.len().min(start + 200));
                    let chunk = doc[start..end].to_vec();
                    let at = rng.gen_range(0..=doc.len());
                    doc.splice(at..at, chunk);
                }
            }
            if doc.is_empty() {
                break;
            }
        }
        match m.decode(&doc) {
            Ok((root, value)) => {
                ok += 1;
                // Whatever decodes must encode and decode back to itself.
                let again = m.encode(&root, &value).expect("a decoded value encodes");
                assert_eq!(m.decode(&again).expect("own output decodes"), (root, value));
            }
            Err(_) => err += 1,
        }
    }
    assert!(
        ok > 0 && err > 0,
        "mutations should give both outcomes: {ok} ok, {err} errors"
    );
}

/// Two namespaces in one mapping: a root type that names its own (as VCD's SupportedVersions
/// does) and a child type that switches namespace under a root in the default one.
fn two_namespaces() -> XmlMapping {
    mapping_from(json!({
        "namespace": "urn:example:main",
        "roots": {"SupportedVersions": "SupportedVersionsType", "Holder": "HolderType"},
        "types": {
            "SupportedVersionsType": {
                "namespace": "urn:example:versions",
                "elements": [{"name": "VersionInfo", "property": "versionInfo", "repeated": true, "type": "VersionInfoType"}]
            },
            "VersionInfoType": {
                "attributes": [{"name": "deprecated", "scalar": "boolean"}],
                "elements": [{"name": "Version", "property": "version"}, {"name": "LoginUrl", "property": "loginUrl"}]
            },
            "HolderType": {
                "attributes": ["name"],
                "elements": [{"name": "Inner", "property": "inner", "type": "InnerType"}, {"name": "Note", "property": "note"}]
            },
            "InnerType": {"namespace": "urn:example:other", "elements": [{"name": "Leaf", "property": "leaf"}]}
        }
    }))
}

#[test]
fn a_type_can_name_its_own_namespace() {
    let m = two_namespaces();
    m.check().expect("the mapping is valid");
    let versions = json!({"versionInfo": [
        {"deprecated": false, "version": "37.0", "loginUrl": "https://host/api/sessions"},
        {"deprecated": true, "version": "36.0", "loginUrl": "https://host/api/sessions"}
    ]});
    let xml = String::from_utf8(m.encode("SupportedVersions", &versions).unwrap()).unwrap();
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SupportedVersions xmlns=\"urn:example:versions\"><VersionInfo deprecated=\"false\"><Version>37.0</Version><LoginUrl>https://host/api/sessions</LoginUrl></VersionInfo><VersionInfo deprecated=\"true\"><Version>36.0</Version><LoginUrl>https://host/api/sessions</LoginUrl></VersionInfo></SupportedVersions>"
    );
    assert_eq!(
        m.decode(xml.as_bytes()).unwrap(),
        ("SupportedVersions".to_owned(), versions)
    );
    // The versions root in the main namespace is refused, naming the one expected.
    let wrong = xml.replace("urn:example:versions", "urn:example:main");
    match m.decode(wrong.as_bytes()) {
        Err(XmlError::WrongNamespace {
            expected, found, ..
        }) => {
            assert_eq!(
                (expected.as_str(), found.as_str()),
                ("urn:example:versions", "urn:example:main")
            );
        }
        other => panic!("expected WrongNamespace, got {other:?}"),
    }
}

#[test]
fn a_child_type_switches_namespace_and_its_parent_keeps_its_own() {
    let m = two_namespaces();
    let value = json!({"name": "h", "inner": {"leaf": "x"}, "note": "n"});
    let xml = String::from_utf8(m.encode("Holder", &value).unwrap()).unwrap();
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Holder xmlns=\"urn:example:main\" name=\"h\"><Inner xmlns=\"urn:example:other\"><Leaf>x</Leaf></Inner><Note>n</Note></Holder>"
    );
    assert_eq!(m.decode(xml.as_bytes()).unwrap().1, value);
    // Prefixed forms are the same document.
    let prefixed = "<m:Holder xmlns:m=\"urn:example:main\" xmlns:o=\"urn:example:other\" name=\"h\"><o:Inner><o:Leaf>x</o:Leaf></o:Inner><m:Note>n</m:Note></m:Holder>";
    assert_eq!(m.decode(prefixed.as_bytes()).unwrap().1, value);
    // A leaf left in the parent's namespace, or a sibling moved into the child's, is refused.
    for bad in [
        "<Holder xmlns=\"urn:example:main\" xmlns:o=\"urn:example:other\"><o:Inner><Leaf>x</Leaf></o:Inner></Holder>",
        "<Holder xmlns=\"urn:example:main\" xmlns:o=\"urn:example:other\"><o:Note>n</o:Note></Holder>",
        "<Holder xmlns=\"urn:example:main\"><Inner><Leaf>x</Leaf></Inner></Holder>",
    ] {
        assert!(
            matches!(m.decode(bad.as_bytes()), Err(XmlError::WrongNamespace { .. })),
            "{bad}: {:?}",
            m.decode(bad.as_bytes())
        );
    }
}

#[test]
fn an_empty_type_namespace_is_refused() {
    let m: XmlMapping = serde_json::from_value(json!({
        "namespace": "urn:example:main",
        "roots": {"R": "RType"},
        "types": {"RType": {"namespace": ""}}
    }))
    .expect("parses");
    assert!(m
        .check()
        .unwrap_err()
        .contains("type RType: namespace is empty"));
}

// ---------------------------------------------------------------------------------------------
// Discriminated elements: one JSON array, several XML element names

const EXAMPLE_NS: &str = "urn:example:events";

/// A query answer whose `record` array holds two kinds of record, told apart by `_type` in
/// JSON and by element name in XML; and a `summary` object that is one of two elements.
fn records_mapping() -> Value {
    json!({
        "namespace": EXAMPLE_NS,
        "roots": {"Records": "RecordsType"},
        "types": {
            "RecordsType": {
                "attributes": [{"name": "total", "scalar": "integer"}],
                "elements": [
                    {"name": "Summary", "property": "summary", "type": "SummaryType",
                     "discriminator": {"property": "kind", "value": "short"}},
                    {"name": "LongSummary", "property": "summary", "type": "SummaryType",
                     "discriminator": {"property": "kind", "value": "long"}},
                    {"name": "EventRecord", "property": "record", "repeated": true,
                     "type": "EventRecordType",
                     "discriminator": {"property": "_type", "value": "QueryResultEventRecordType"}},
                    {"name": "AdminEventRecord", "property": "record", "repeated": true,
                     "type": "EventRecordType",
                     "discriminator": {"property": "_type", "value": "QueryResultAdminEventRecordType"}},
                    {"name": "Note", "property": "note"}
                ]
            },
            "SummaryType": {"text": {"property": "text"}},
            "EventRecordType": {"attributes": ["name", {"name": "success", "scalar": "boolean"}]}
        }
    })
}

fn records() -> XmlMapping {
    mapping_from(records_mapping())
}

#[test]
fn discriminated_items_round_trip_in_array_order() {
    let value = json!({
        "total": 3,
        "summary": {"kind": "long", "text": "three records"},
        "record": [
            {"_type": "QueryResultEventRecordType", "name": "a", "success": true},
            {"_type": "QueryResultAdminEventRecordType", "name": "b", "success": false},
            {"_type": "QueryResultEventRecordType", "name": "c"}
        ],
        "note": "n"
    });
    let m = records();
    let xml = String::from_utf8(m.encode("Records", &value).expect("encode")).unwrap();
    assert_eq!(
        xml,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Records xmlns=\"{EXAMPLE_NS}\" total=\"3\">\
             <LongSummary>three records</LongSummary>\
             <EventRecord name=\"a\" success=\"true\"/>\
             <AdminEventRecord name=\"b\" success=\"false\"/>\
             <EventRecord name=\"c\"/>\
             <Note>n</Note></Records>"
        )
    );
    let (root, back) = m.decode(xml.as_bytes()).expect("decode");
    assert_eq!(root, "Records");
    assert_eq!(back, value);
    for item in back["record"].as_array().unwrap() {
        assert_eq!(keys(item)[0], "_type", "{item}");
    }
}

#[test]
fn decoding_sets_the_discriminator_first_in_document_order() {
    let xml = format!(
        r#"<Records xmlns="{EXAMPLE_NS}"><Summary>s</Summary><AdminEventRecord success="true" name="x"/><EventRecord name="y"/><AdminEventRecord/></Records>"#
    );
    let (_, value) = records().decode(xml.as_bytes()).expect("decode");
    assert_eq!(
        value,
        json!({
            "summary": {"kind": "short", "text": "s"},
            "record": [
                {"_type": "QueryResultAdminEventRecordType", "name": "x", "success": true},
                {"_type": "QueryResultEventRecordType", "name": "y"},
                {"_type": "QueryResultAdminEventRecordType"}
            ]
        })
    );
    assert_eq!(keys(&value["record"][0]), ["_type", "name", "success"]);
    assert_eq!(keys(&value["summary"]), ["kind", "text"]);
    // The discriminator is JSON-only: as an attribute it is unknown.
    let with_attribute = format!(
        r#"<Records xmlns="{EXAMPLE_NS}"><EventRecord _type="QueryResultEventRecordType"/></Records>"#
    );
    assert!(matches!(
        records().decode(with_attribute.as_bytes()),
        Err(XmlError::UnknownAttribute { .. })
    ));
    // Two elements of one non-repeated property are a duplicate.
    let twice = format!(
        r#"<Records xmlns="{EXAMPLE_NS}"><Summary>a</Summary><LongSummary>b</LongSummary></Records>"#
    );
    assert!(matches!(
        records().decode(twice.as_bytes()),
        Err(XmlError::Duplicate { name, .. }) if name == "LongSummary"
    ));
}

#[test]
fn encoding_refuses_an_item_no_discriminator_names() {
    let m = records();
    let cases = [
        (
            json!({"record": [{"_type": "QueryResultEventRecordType"}, {"_type": "QueryResultTaskRecordType"}]}),
            "/Records/record[1]",
            "'QueryResultTaskRecordType'",
        ),
        (
            json!({"record": [{"name": "no type"}]}),
            "/Records/record[0]",
            "is absent",
        ),
        (
            json!({"record": [{"_type": 7}]}),
            "/Records/record[0]",
            "is a number",
        ),
        (
            json!({"record": {"_type": "QueryResultEventRecordType"}}),
            "/Records/record",
            "expected an array",
        ),
        (
            json!({"summary": {"kind": "medium", "text": "t"}}),
            "/Records/summary",
            "'medium'",
        ),
    ];
    for (value, path, reason) in cases {
        match m.encode("Records", &value) {
            Err(XmlError::Unmappable { path: p, reason: r }) => {
                assert_eq!(p, path, "{value}");
                assert!(r.contains(reason), "{value}: {r}");
            }
            other => panic!("{value}: expected Unmappable, got {other:?}"),
        }
    }
    // Another member the item type does not map is still refused.
    assert!(matches!(
        m.encode("Records", &json!({"record": [{"_type": "QueryResultEventRecordType", "extra": 1}]})),
        Err(XmlError::Unmappable { reason, .. }) if reason.contains("'extra'")
    ));
}

#[test]
fn check_refuses_elements_sharing_a_property_without_distinct_discriminators() {
    let problems = |edit: &dyn Fn(&mut Value)| {
        let mut raw = records_mapping();
        edit(&mut raw);
        let m: XmlMapping = serde_json::from_value(raw).expect("mapping");
        m.check().expect_err("check accepted the mapping")
    };
    let elements = "/types/RecordsType/elements";
    let undiscriminated = problems(&|m| {
        let els = m.pointer_mut(elements).unwrap();
        els[2].as_object_mut().unwrap().remove("discriminator");
        els[3].as_object_mut().unwrap().remove("discriminator");
    });
    assert!(
        undiscriminated.contains("type RecordsType: property 'record' is mapped twice")
            && undiscriminated.contains("<EventRecord>, <AdminEventRecord>"),
        "{undiscriminated}"
    );
    let one_undiscriminated = problems(&|m| {
        m.pointer_mut(elements).unwrap()[3]
            .as_object_mut()
            .unwrap()
            .remove("discriminator");
    });
    assert!(
        one_undiscriminated.contains("property 'record' is mapped twice"),
        "{one_undiscriminated}"
    );
    let same_value = problems(&|m| {
        m.pointer_mut(elements).unwrap()[3]["discriminator"]["value"] =
            json!("QueryResultEventRecordType");
    });
    assert!(
        same_value
            .contains("value 'QueryResultEventRecordType' of property 'record' is used twice"),
        "{same_value}"
    );
    let other_member = problems(&|m| {
        m.pointer_mut(elements).unwrap()[3]["discriminator"]["property"] = json!("kind");
    });
    assert!(other_member.contains("different members"), "{other_member}");
    let half_repeated = problems(&|m| {
        m.pointer_mut(elements).unwrap()[3]["repeated"] = json!(false);
    });
    assert!(
        half_repeated.contains("not all of them are repeated"),
        "{half_repeated}"
    );
    let mapped_member = problems(&|m| {
        m.pointer_mut("/types/EventRecordType/attributes")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(json!("_type"));
    });
    assert!(
        mapped_member
            .contains("discriminator property '_type' is also mapped by type 'EventRecordType'"),
        "{mapped_member}"
    );
    let clash_with_attribute = problems(&|m| {
        m.pointer_mut("/types/RecordsType/attributes")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(json!("record"));
    });
    assert!(
        clash_with_attribute.contains("property 'record' is mapped twice"),
        "{clash_with_attribute}"
    );
    // Only an object can carry the member.
    let mut on_text = records_mapping();
    on_text.pointer_mut(elements).unwrap()[4]["discriminator"] =
        json!({"property": "kind", "value": "x"});
    let err = serde_json::from_value::<XmlMapping>(on_text)
        .unwrap_err()
        .to_string();
    assert!(err.contains("discriminator but no type"), "{err}");
}

#[test]
fn error_messages_quote_control_characters_escaped() {
    // A message quoting client input must itself be writable as XML (an Error attribute).
    let err = decode("<AuditEvent xmlns=\"urn:x\u{8}y\"/>").expect_err("foreign namespace");
    let message = err.to_string();
    assert!(!message.chars().any(char::is_control), "{message:?}");
    assert!(message.contains("\\u{8}"), "{message:?}");
}
