#!/usr/bin/env bash
# Every example of the MWS Events document (seed 004), as curl commands against the mock.
# Start the mock first:  cargo xtask serve --events-log-zone America/Denver
# Then:                  bash docs/seed-004-examples.sh [http://127.0.0.1:8080]
set -euo pipefail
ROOT=${1:-http://127.0.0.1:8080}
B=$ROOT/mws/rest/events
U=admin:secret
show() { printf '\n$ %s\n' "$1"; }
get() { # get LABEL PARAM...   (a GET with --data-urlencode for each PARAM)
  local label=$1; shift
  local args=(-s -u "$U" -G "$B" --data-urlencode api-version=3)
  for p in "$@"; do args+=(--data-urlencode "$p"); done
  show "$label"
  curl "${args[@]}"; echo
}
post() { curl -s -u "$U" -X POST "$B?api-version=3" -H 'Content-Type: application/json' -d "$1"; }

curl -s -X POST "$ROOT/__admin/reset" > /dev/null

echo "# 4.6.1.A Get All Events: the two events of the sample response"
post '{"arguments":["51b608ddc4aa708a5bebb684"],"associatedObjects":[{"type":"Service","id":"51b608ddc4aa708a5bebb684"}],"code":33554944,"eventDate":"2024-06-10 17:11:59 UTC","eventType":"Service Create","message":"The service '"'"'51b608ddc4aa708a5bebb684'"'"' was created","origin":"MWS/ServiceEvents/CREATE_1ID","severity":"INFO"}' > /dev/null
post '{"arguments":[],"associatedObjects":[{"type":"VM","id":"vm1"}],"code":234881023,"eventDate":"2024-06-10 17:13:31 UTC","eventType":"VM Provision","message":null,"origin":"CSA Plugin","severity":"INFO"}' > /dev/null
get 'GET /rest/events?api-version=3' 'sort={"eventDate":-1}'

echo; echo "# Simple queries"
get 'query={"eventType":"Service Create"}' 'query={"eventType":"Service Create"}'
get 'query={"eventType":"Service Create","severity":"INFO"}' 'query={"eventType":"Service Create","severity":"INFO"}'
post '{"code":33554946,"eventDate":"2025-01-27 12:05:00 UTC","eventType":"Service Create","origin":"MWS/ServiceEvents/CREATE_FAILED","severity":"ERROR","message":"Service creation failed"}' > /dev/null
get 'query={code:33554946}   (unquoted key)' 'query={code:33554946}'

echo; echo "# More complex queries"
get 'query={"associatedObjects.id":"51b608ddc4aa708a5bebb684"}' 'query={"associatedObjects.id":"51b608ddc4aa708a5bebb684"}' 'fields=eventType,associatedObjects'
get 'query={"associatedObjects.id":{"$ne":"51b608ddc4aa708a5bebb684"}}' 'query={"associatedObjects.id":{"$ne":"51b608ddc4aa708a5bebb684"}}' 'fields=eventType,associatedObjects'
post '{"code":50331649,"eventDate":"2025-01-27 12:08:00 UTC","eventType":"Job Fail","origin":"Moab","severity":"WARN"}' > /dev/null
post '{"code":16777217,"eventDate":"2025-01-27 12:03:00 UTC","eventType":"Node Down","origin":"Moab","severity":"ERROR"}' > /dev/null
post '{"code":16777218,"eventDate":"2025-01-27 12:09:00 UTC","eventType":"Node Down","origin":"Moab","severity":"ERROR"}' > /dev/null
get 'query={"severity":{"$in":["ERROR","WARN"]}}' 'query={"severity":{"$in":["ERROR","WARN"]}}' 'fields=eventType,severity,eventDate'

echo; echo "# Querying events by date (events at 12:03, 12:05, 12:08 and 12:09 on 2025-01-27)"
F='fields=eventDate,severity'
get '$lt 12:08'  'query={"eventDate":{"$lt":"2025-01-27 12:08:00 UTC"}}' 'sort={"eventDate":1}' "$F"
get '$lte 12:08' 'query={"eventDate":{"$lte":"2025-01-27 12:08:00 UTC"}}' 'sort={"eventDate":1}' "$F"
get '$gt 12:04'  'query={"eventDate":{"$gt":"2025-01-27 12:04:00 UTC"}}' 'sort={"eventDate":1}' "$F"
get '$gte 12:04' 'query={"eventDate":{"$gte":"2025-01-27 12:04:00 UTC"}}' 'sort={"eventDate":1}' "$F"
get 'between 12:04 and 12:08 inclusive' 'query={"eventDate":{"$gte":"2025-01-27 12:04:00 UTC","$lte":"2025-01-27 12:08:00 UTC"}}' 'sort={"eventDate":1}' "$F"
get 'ERROR between 12:04 and 12:08' 'query={"severity":"ERROR","eventDate":{"$gte":"2025-01-27 12:04:00 UTC","$lte":"2025-01-27 12:08:00 UTC"}}' "$F"

echo; echo "# Limiting the number of results: 60 more VM Provision events, one minute apart"
for i in $(seq 0 59); do
  post "{\"arguments\":[\"vm$((i+1))\"],\"code\":234881023,\"eventDate\":\"2025-02-01 10:$(printf %02d "$i"):00 UTC\",\"eventType\":\"VM Provision\",\"origin\":\"CSA Plugin\",\"severity\":\"INFO\"}" > /dev/null
done
get 'max=10, sort by eventDate ascending' 'query={"eventType":"VM Provision"}' 'sort={"eventDate":1}' 'max=10' 'fields=eventDate,arguments'
get 'events 51-60, sort by eventDate descending' 'query={"eventType":"VM Provision"}' 'sort={"eventDate":-1}' 'max=10' 'offset=50' 'fields=eventDate,arguments'

echo; echo "# 4.6.2.A Create Event, then 4.6.1.B Get Single Event"
show "POST /rest/events?api-version=3"
created=$(post '{"arguments":["vm1"],"associatedObjects":[{"type":"VM","id":"vm1"}],"code":234881023,"eventDate":"2024-06-10 17:13:31 UTC","eventType":"VM Provision","message":"The virtual machine \"vm1\" was provisioned","origin":"CSA Plugin","severity":"INFO"}')
echo "$created"
id=$(printf '%s' "$created" | sed -E 's/.*"id":"([0-9a-f]{24})".*/\1/')
show "GET /rest/events/$id?api-version=3"
curl -s -u "$U" "$B/$id?api-version=3&pretty=true"; echo

echo; echo "# events.log: the line written for that event"
curl -s "$ROOT/__admin/mws-events/events-log" | tail -n 1
