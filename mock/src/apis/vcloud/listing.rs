//! The two ways to list events: the legacy query service (`GET /api/query?type=event|adminEvent`,
//! QueryResultRecords of EventRecord / AdminEventRecord, rule `query`) and the cloudapi
//! `GET /cloudapi/1.0.0/auditTrail` (a page of AuditTrailEvent with `Link` headers, rule
//! `audit_trail`). Both filter (FIQL subset), sort and page what the caller may see.

use std::collections::BTreeMap;

use http::StatusCode;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::{json, Value};

use super::fiql::Filter;
use super::{Call, Outcome, StoredEvent, VcloudApi};
use crate::codec::without_parameters;
use crate::mongo::DocView;
use crate::timefmt::TimeFormat;
use crate::wire::{query_pairs, Reply, Request};

#[derive(Debug, Clone, Deserialize)]
pub struct PageSize {
    pub default: usize,
    pub max: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QueryType {
    pub record_type: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Status<T> {
    pub success: T,
    pub failure: T,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QueryRule {
    pub page_size: PageSize,
    pub formats: Vec<String>,
    pub default_format: String,
    pub types: BTreeMap<String, QueryType>,
    pub sort_fields: Vec<String>,
    pub filter_fields: Vec<String>,
    pub event_status: Status<i64>,
    pub product_version: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuditTrailRule {
    pub page_size: PageSize,
    pub model: String,
    pub sort_fields: Vec<String>,
    pub default_sort_desc: String,
    pub filter_fields: Vec<String>,
    pub event_status: Status<String>,
    pub time_format: TimeFormat,
}

/// Paging, sorting and filtering parameters, read and checked.
struct Listing {
    page: usize,
    page_size: usize,
    /// (field, descending)
    sort: Option<(String, bool)>,
    filter: Filter,
}

impl Listing {
    /// Read `page`, `pageSize`, `sortAsc`/`sortDesc` and `filter`; `Err` is the 400's message.
    fn read(
        pairs: &[(String, String)],
        page_size: &PageSize,
        sort_fields: &[String],
        filter_fields: &[String],
        api: &VcloudApi,
    ) -> Result<Self, String> {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let number = |name: &str, default: usize, max: usize| -> Result<usize, String> {
            match get(name) {
                None => Ok(default),
                Some(text) => match text.trim().parse::<usize>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(n),
                    _ => Err(format!(
                        "{name} must be an integer from 1 to {max}, not '{text}'"
                    )),
                },
            }
        };
        let page = number("page", 1, usize::MAX)?;
        let page_size = number("pageSize", page_size.default, page_size.max)?;
        let sort = match (get("sortAsc"), get("sortDesc")) {
            (Some(_), Some(_)) => return Err("sortAsc and sortDesc cannot both be given".into()),
            (Some(f), None) => Some((f.to_owned(), false)),
            (None, Some(f)) => Some((f.to_owned(), true)),
            (None, None) => None,
        };
        if let Some((field, _)) = &sort {
            if !sort_fields.contains(field) {
                return Err(format!(
                    "cannot sort on '{field}'; fields: {}",
                    sort_fields.join(", ")
                ));
            }
        }
        let filter = match get("filter") {
            None | Some("") => Filter::default(),
            Some(text) => Filter::parse(text, filter_fields, &api.rules.fiql)?,
        };
        Ok(Self {
            page,
            page_size,
            sort,
            filter,
        })
    }

    /// Filter and sort `rows`, then cut the page: (the page's rows, total, page count).
    fn apply(&self, mut rows: Vec<Value>) -> (Vec<Value>, usize, usize) {
        rows.retain(|r| self.filter.matches(r));
        if let Some((field, descending)) = &self.sort {
            rows.sort_by(|a, b| {
                let ordering = compare(&a[field.as_str()], &b[field.as_str()]);
                if *descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            });
        }
        let total = rows.len();
        let pages = total.div_ceil(self.page_size);
        let start = (self.page - 1).saturating_mul(self.page_size);
        let page = rows.into_iter().skip(start).take(self.page_size).collect();
        (page, total, pages)
    }
}

/// Order of two field values: numbers by value, times by instant, other text by code point.
fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        (Value::String(x), Value::String(y)) => {
            match (super::fiql::parse_time(x), super::fiql::parse_time(y)) {
                (Some(x), Some(y)) => x.cmp(&y),
                _ => x.cmp(y),
            }
        }
        (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
        (Value::Null, _) => std::cmp::Ordering::Less,
        (_, Value::Null) => std::cmp::Ordering::Greater,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// `path?name=value&...` with the page replaced.
fn page_href(base: &str, pairs: &[(String, String)], page: usize) -> String {
    let mut query: Vec<(String, String)> =
        pairs.iter().filter(|(n, _)| n != "page").cloned().collect();
    query.push(("page".into(), page.to_string()));
    let encode = |text: &str| utf8_percent_encode(text, NON_ALPHANUMERIC).to_string();
    let encoded: Vec<String> = query
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect();
    format!("{base}?{}", encoded.join("&"))
}

impl VcloudApi {
    /// `GET /api/query?type=event|adminEvent`.
    pub(super) fn query(&self, req: &Request, call: &Call<'_>) -> Outcome {
        let pairs =
            query_pairs(req.uri().query()).map_err(|e| self.bad_request(call.envelope, e))?;
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let rule = &self.rules.query;
        let Some(kind) = get("type") else {
            return Err(self.bad_request(call.envelope, "The query parameter 'type' is required"));
        };
        let Some(query_type) = rule.types.get(&kind) else {
            return Err(self.bad_request(
                call.envelope,
                format!(
                    "Unsupported query type: {kind}; supported: {}",
                    rule.types.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        };
        let format = get("format").unwrap_or_else(|| rule.default_format.clone());
        if !rule.formats.contains(&format) {
            return Err(self.bad_request(
                call.envelope,
                format!(
                    "Unsupported format: {format}; supported: {}",
                    rule.formats.join(", ")
                ),
            ));
        }
        let listing = Listing::read(
            &pairs,
            &rule.page_size,
            &rule.sort_fields,
            &rule.filter_fields,
            self,
        )
        .map_err(|e| self.bad_request(call.envelope, e))?;
        let admin = kind != "event";
        let events = self.visible_events(call, admin);
        let rows = events
            .iter()
            .map(|e| {
                self.query_record(
                    StoredEvent::of(e),
                    call,
                    &query_type.record_type,
                    admin,
                    &format == "idrecords",
                )
            })
            .collect();
        let (page, total, pages) = listing.apply(rows);
        let media_type = without_parameters(&call.negotiated.media_type).to_owned();
        let base = format!("{}/api/query", call.origin);
        let mut links = Vec::new();
        let mut link = |rel: &str, page: usize| {
            links.push(json!({"otherAttributes": {}, "rel": rel, "type": media_type, "href": page_href(&base, &pairs, page), "vCloudExtension": []}));
        };
        if listing.page > 1 {
            link("firstPage", 1);
            link("previousPage", (listing.page - 1).min(pages.max(1)));
        }
        if listing.page < pages {
            link("nextPage", listing.page + 1);
            link("lastPage", pages);
        }
        Ok(Reply::value(
            StatusCode::OK,
            json!({
                "otherAttributes": {},
                "link": links,
                "href": page_href(&base, &pairs, listing.page),
                "type": media_type,
                "name": kind,
                "page": listing.page,
                "pageSize": listing.page_size,
                "total": total,
                "record": page,
                "vCloudExtension": [],
            }),
        ))
    }

    /// An EventRecord / AdminEventRecord of a stored event (rule `query`): `records` carry the
    /// event's URL in `href`, `idrecords` its URN.
    fn query_record(
        &self,
        event: StoredEvent<'_>,
        call: &Call<'_>,
        record_type: &str,
        admin: bool,
        ids: bool,
    ) -> Value {
        let rule = &self.rules.query;
        let uuid = event.str("uuid");
        let urn = format!("{}{uuid}", self.rules.event.urn_prefix);
        let href = format!("{}/api/admin/event/{uuid}", call.origin);
        let org = self.org_of(event);
        let success = event.success();
        let mut record = json!({
            "_type": record_type,
            "otherAttributes": {},
            "link": [],
            "href": if ids { urn.clone() } else { href },
            "eventId": urn,
            "eventType": event.value("event_type"),
            "timeStamp": event.value("time"),
            "eventStatus": if success { rule.event_status.success } else { rule.event_status.failure },
            "userName": event.0.field("user").and_then(|u| u.field("name")).map_or(Value::Null, |n| n.to_value()),
            "orgName": org.map(|o| o.name.clone()),
            "description": event.value("description"),
            "details": event.value("details"),
            "serviceNamespace": event.value("service_namespace"),
            "vCloudExtension": [],
        });
        if admin {
            record["productVersion"] = json!(rule.product_version);
            record["org"] = json!(org.map(|o| format!("{}/api/org/{}", call.origin, o.id)));
        }
        // Absent, not null: XML has no null attribute, and both renderings hold one value.
        if let Value::Object(map) = &mut record {
            map.retain(|_, v| !v.is_null());
        }
        record
    }

    /// `GET /cloudapi/1.0.0/auditTrail`.
    pub(super) fn audit_trail(&self, req: &Request, call: &Call<'_>) -> Outcome {
        let pairs =
            query_pairs(req.uri().query()).map_err(|e| self.bad_request(call.envelope, e))?;
        let rule = &self.rules.audit_trail;
        let mut listing = Listing::read(
            &pairs,
            &rule.page_size,
            &rule.sort_fields,
            &rule.filter_fields,
            self,
        )
        .map_err(|e| self.bad_request(call.envelope, e))?;
        if listing.sort.is_none() {
            listing.sort = Some((rule.default_sort_desc.clone(), true));
        }
        let events = self.visible_events(call, true);
        let rows = events
            .iter()
            .map(|e| self.audit_trail_entry(StoredEvent::of(e)))
            .collect();
        let (values, total, pages) = listing.apply(rows);
        let base = format!("{}/cloudapi/1.0.0/auditTrail", call.origin);
        let mut reply = Reply::value(
            StatusCode::OK,
            json!({
                "resultTotal": total,
                "pageCount": pages,
                "page": listing.page,
                "pageSize": listing.page_size,
                "associations": null,
                "values": values,
            }),
        );
        let link = |rel: &str, page: usize| {
            format!(
                "<{}>;rel=\"{rel}\";type=\"application/json\";model=\"{}\"",
                page_href(&base, &pairs, page),
                rule.model
            )
        };
        let mut links = Vec::new();
        if listing.page > 1 {
            links.push(link("firstPage", 1));
            links.push(link("prevPage", (listing.page - 1).min(pages.max(1))));
        }
        if listing.page < pages {
            links.push(link("nextPage", listing.page + 1));
        }
        if pages > 0 {
            links.push(link("lastPage", pages));
        }
        if !links.is_empty() {
            reply = reply.header("Link", &links.join(", "));
        }
        Ok(reply)
    }

    /// An AuditTrailEvent of a stored event: posted events are `external` (rule `audit_trail`).
    fn audit_trail_entry(&self, event: StoredEvent<'_>) -> Value {
        let rule = &self.rules.audit_trail;
        let org = self.org_of(event);
        let success = event.success();
        let time = super::fiql::parse_time(event.str("time"))
            .map(|t| rule.time_format.format(&t))
            .unwrap_or_default();
        let properties = match event.value("properties") {
            Value::Array(ps) => super::properties_object(&ps),
            _ => Default::default(),
        };
        json!({
            "eventId": format!("{}{}", self.rules.event.audit_urn_prefix, event.str("audit_uuid")),
            "description": event.value("description"),
            "operatingOrg": org.map(|o| json!({"name": o.name, "id": format!("{}{}", self.rules.event.org_urn_prefix, o.id)})),
            "user": event.value("actor"),
            "eventEntity": null,
            "taskId": null,
            "taskCellId": null,
            "cellId": null,
            "eventType": event.value("event_type"),
            "serviceNamespace": event.value("service_namespace"),
            "eventStatus": if success { &rule.event_status.success } else { &rule.event_status.failure },
            "timestamp": time,
            "external": true,
            "additionalProperties": properties,
        })
    }
}
