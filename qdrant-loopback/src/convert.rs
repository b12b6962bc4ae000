//! Conversions between Qdrant's gRPC messages and Qdrant Edge's types.
//!
//! Filters go through Qdrant's JSON filter form (the REST API's), which Edge deserializes, as the
//! store does. Anything the loopback cannot honour is refused with `Code::Unimplemented` naming
//! it; nothing is silently dropped.

use std::collections::HashMap;
use std::fmt::Display;

use qdrant_client::qdrant as pb;
use qdrant_edge as edge;
use serde_json::{Map, Value as Json, json};
use tonic::Status;

use pb::condition::ConditionOneOf;
use pb::r#match::MatchValue;

/// `Code::Unimplemented` for something this server does not do.
pub fn unimplemented(what: impl Display) -> Status {
    Status::unimplemented(format!("qdrant-loopback does not implement {what}"))
}

// ---------------------------------------------------------------------------------------------
// Payload values (as the real server: `api::conversions::json`)

pub fn json_to_proto(value: Json) -> pb::Value {
    use pb::value::Kind;
    let kind = match value {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Kind::IntegerValue(i),
            None => Kind::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Kind::StringValue(s),
        Json::Array(a) => Kind::ListValue(pb::ListValue {
            values: a.into_iter().map(json_to_proto).collect(),
        }),
        Json::Object(m) => Kind::StructValue(pb::Struct {
            fields: m.into_iter().map(|(k, v)| (k, json_to_proto(v))).collect(),
        }),
    };
    pb::Value { kind: Some(kind) }
}

pub fn proto_to_json(value: pb::Value) -> Result<Json, Status> {
    use pb::value::Kind;
    let Some(kind) = value.kind else {
        return Ok(Json::Null);
    };
    Ok(match kind {
        Kind::NullValue(_) => Json::Null,
        Kind::DoubleValue(d) => Json::Number(
            serde_json::Number::from_f64(d)
                .ok_or_else(|| Status::invalid_argument("cannot convert to json number"))?,
        ),
        Kind::IntegerValue(i) => Json::Number(i.into()),
        Kind::StringValue(s) => Json::String(s),
        Kind::BoolValue(b) => Json::Bool(b),
        Kind::StructValue(s) => Json::Object(proto_map_to_json(s.fields)?),
        Kind::ListValue(l) => Json::Array(
            l.values
                .into_iter()
                .map(proto_to_json)
                .collect::<Result<_, _>>()?,
        ),
    })
}

pub fn proto_map_to_json(map: HashMap<String, pb::Value>) -> Result<Map<String, Json>, Status> {
    map.into_iter()
        .map(|(k, v)| proto_to_json(v).map(|j| (k, j)))
        .collect()
}

pub fn payload_from_proto(map: HashMap<String, pb::Value>) -> Result<edge::Payload, Status> {
    proto_map_to_json(map).map(|m| edge::Payload(m.into_iter().collect()))
}

pub fn payload_to_proto(payload: Option<edge::Payload>) -> HashMap<String, pb::Value> {
    payload
        .map(|p| p.0.into_iter().map(|(k, v)| (k, json_to_proto(v))).collect())
        .unwrap_or_default()
}

pub fn json_path(key: &str) -> Result<edge::JsonPath, Status> {
    edge::JsonPath::try_from(key).map_err(|_| Status::invalid_argument(format!("Invalid json path: '{key}'")))
}

// ---------------------------------------------------------------------------------------------
// Point ids

pub fn point_id_from_proto(id: pb::PointId) -> Result<edge::PointId, Status> {
    use pb::point_id::PointIdOptions;
    match id.point_id_options {
        Some(PointIdOptions::Num(n)) => Ok(edge::PointId::NumId(n)),
        Some(PointIdOptions::Uuid(s)) => edge::external::uuid::Uuid::parse_str(&s)
            .map(edge::PointId::Uuid)
            .map_err(|_| Status::invalid_argument(format!("Unable to parse UUID: {s}"))),
        None => Err(Status::invalid_argument("No ID options provided")),
    }
}

pub fn point_ids_from_proto(ids: Vec<pb::PointId>) -> Result<Vec<edge::PointId>, Status> {
    ids.into_iter().map(point_id_from_proto).collect()
}

pub fn point_id_to_proto(id: edge::PointId) -> pb::PointId {
    use pb::point_id::PointIdOptions;
    pb::PointId {
        point_id_options: Some(match id {
            edge::PointId::NumId(n) => PointIdOptions::Num(n),
            edge::PointId::Uuid(u) => PointIdOptions::Uuid(u.to_string()),
        }),
    }
}

fn point_id_json(id: pb::PointId) -> Result<Json, Status> {
    Ok(match point_id_from_proto(id)? {
        edge::PointId::NumId(n) => json!(n),
        edge::PointId::Uuid(u) => json!(u.to_string()),
    })
}

// ---------------------------------------------------------------------------------------------
// Filters

pub fn filter_from_proto(filter: Option<pb::Filter>) -> Result<Option<edge::Filter>, Status> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    let json = filter_json(filter)?;
    serde_json::from_value(json)
        .map(Some)
        .map_err(|e| Status::invalid_argument(format!("Wrong input: malformed filter: {e}")))
}

/// Qdrant's JSON form of a filter. Empty condition lists are left out and conditions without a
/// variant are skipped, as the real server does.
pub fn filter_json(filter: pb::Filter) -> Result<Json, Status> {
    let pb::Filter {
        should,
        must,
        must_not,
        min_should,
    } = filter;
    let mut out = Map::new();
    for (name, conditions) in [("must", must), ("should", should), ("must_not", must_not)] {
        let conditions = conditions_json(conditions)?;
        if !conditions.is_empty() {
            out.insert(name.into(), Json::Array(conditions));
        }
    }
    if let Some(pb::MinShould {
        conditions,
        min_count,
    }) = min_should
    {
        out.insert(
            "min_should".into(),
            json!({ "conditions": conditions_json(conditions)?, "min_count": min_count }),
        );
    }
    Ok(Json::Object(out))
}

fn conditions_json(conditions: Vec<pb::Condition>) -> Result<Vec<Json>, Status> {
    let mut out = Vec::with_capacity(conditions.len());
    for c in conditions {
        if let Some(c) = c.condition_one_of {
            out.push(condition_json(c)?);
        }
    }
    Ok(out)
}

fn condition_json(condition: ConditionOneOf) -> Result<Json, Status> {
    Ok(match condition {
        ConditionOneOf::Field(field) => field_condition_json(field)?,
        ConditionOneOf::IsEmpty(pb::IsEmptyCondition { key }) => {
            json_path(&key)?;
            json!({ "is_empty": { "key": key } })
        }
        ConditionOneOf::IsNull(pb::IsNullCondition { key }) => {
            json_path(&key)?;
            json!({ "is_null": { "key": key } })
        }
        ConditionOneOf::HasId(pb::HasIdCondition { has_id }) => {
            let ids = has_id
                .into_iter()
                .map(point_id_json)
                .collect::<Result<Vec<_>, _>>()?;
            json!({ "has_id": ids })
        }
        ConditionOneOf::HasVector(pb::HasVectorCondition { has_vector }) => {
            json!({ "has_vector": has_vector })
        }
        ConditionOneOf::Filter(filter) => filter_json(filter)?,
        ConditionOneOf::Nested(pb::NestedCondition { key, filter }) => {
            json_path(&key)?;
            let filter =
                filter.ok_or_else(|| Status::invalid_argument("Nested condition must have a filter"))?;
            json!({ "nested": { "key": key, "filter": filter_json(filter)? } })
        }
        ConditionOneOf::Slice(_) => return Err(unimplemented("the Slice filter condition")),
    })
}

fn number(x: f64, what: &str) -> Result<Json, Status> {
    serde_json::Number::from_f64(x)
        .map(Json::Number)
        .ok_or_else(|| Status::invalid_argument(format!("{what} must be a finite number, got {x}")))
}

fn geo_point_json(p: Option<pb::GeoPoint>, what: &str) -> Result<Json, Status> {
    let p = p.ok_or_else(|| Status::invalid_argument(format!("{what} is missing")))?;
    Ok(json!({ "lon": number(p.lon, "lon")?, "lat": number(p.lat, "lat")? }))
}

fn line_json(line: pb::GeoLineString) -> Result<Json, Status> {
    let points = line
        .points
        .into_iter()
        .map(|p| geo_point_json(Some(p), "geo point"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "points": points }))
}

fn timestamp_json(t: prost_types::Timestamp) -> Result<Json, Status> {
    let nanos = u32::try_from(t.nanos)
        .map_err(|_| Status::invalid_argument("Timestamp nanos must not be negative"))?;
    let dt = chrono::DateTime::from_timestamp(t.seconds, nanos)
        .ok_or_else(|| Status::invalid_argument("Timestamp is out of range"))?;
    Ok(json!(dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
}

fn field_condition_json(field: pb::FieldCondition) -> Result<Json, Status> {
    let pb::FieldCondition {
        key,
        r#match,
        range,
        geo_bounding_box,
        geo_radius,
        values_count,
        geo_polygon,
        datetime_range,
        is_empty,
        is_null,
    } = field;
    json_path(&key)?;
    let mut out = Map::new();
    out.insert("key".into(), json!(key));
    if let Some(m) = r#match {
        out.insert("match".into(), match_json(m)?);
    }
    if let Some(pb::Range { lt, gt, gte, lte }) = range {
        let mut r = Map::new();
        for (name, v) in [("lt", lt), ("gt", gt), ("gte", gte), ("lte", lte)] {
            if let Some(v) = v {
                r.insert(name.into(), number(v, "range bound")?);
            }
        }
        out.insert("range".into(), Json::Object(r));
    } else if let Some(pb::DatetimeRange { lt, gt, gte, lte }) = datetime_range {
        let mut r = Map::new();
        for (name, v) in [("lt", lt), ("gt", gt), ("gte", gte), ("lte", lte)] {
            if let Some(v) = v {
                r.insert(name.into(), timestamp_json(v)?);
            }
        }
        out.insert("range".into(), Json::Object(r));
    }
    if let Some(pb::GeoBoundingBox {
        top_left,
        bottom_right,
    }) = geo_bounding_box
    {
        out.insert(
            "geo_bounding_box".into(),
            json!({
                "top_left": geo_point_json(top_left, "top_left")?,
                "bottom_right": geo_point_json(bottom_right, "bottom_right")?,
            }),
        );
    }
    if let Some(pb::GeoRadius { center, radius }) = geo_radius {
        out.insert(
            "geo_radius".into(),
            json!({ "center": geo_point_json(center, "center")?, "radius": number(f64::from(radius), "radius")? }),
        );
    }
    if let Some(pb::GeoPolygon { exterior, interiors }) = geo_polygon {
        let exterior = exterior.ok_or_else(|| Status::invalid_argument("exterior is missing"))?;
        let interiors = interiors
            .into_iter()
            .map(line_json)
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(
            "geo_polygon".into(),
            json!({ "exterior": line_json(exterior)?, "interiors": interiors }),
        );
    }
    if let Some(pb::ValuesCount { lt, gt, gte, lte }) = values_count {
        let mut r = Map::new();
        for (name, v) in [("lt", lt), ("gt", gt), ("gte", gte), ("lte", lte)] {
            if let Some(v) = v {
                r.insert(name.into(), json!(v));
            }
        }
        out.insert("values_count".into(), Json::Object(r));
    }
    if let Some(b) = is_empty {
        out.insert("is_empty".into(), json!(b));
    }
    if let Some(b) = is_null {
        out.insert("is_null".into(), json!(b));
    }
    if out.len() == 1 {
        return Err(Status::invalid_argument(format!(
            "Validation error in body: [filter: field condition on `{key}`: At least one field condition must be specified]"
        )));
    }
    Ok(Json::Object(out))
}

fn match_json(m: pb::Match) -> Result<Json, Status> {
    let Some(value) = m.match_value else {
        return Err(Status::invalid_argument("Malformed Match condition"));
    };
    Ok(match value {
        MatchValue::Keyword(s) => json!({ "value": s }),
        MatchValue::Integer(i) => json!({ "value": i }),
        MatchValue::Boolean(b) => json!({ "value": b }),
        MatchValue::Text(s) => json!({ "text": s }),
        MatchValue::Phrase(s) => json!({ "phrase": s }),
        MatchValue::TextAny(s) => json!({ "text_any": s }),
        MatchValue::Keywords(r) => json!({ "any": r.strings }),
        MatchValue::Integers(r) => json!({ "any": r.integers }),
        MatchValue::ExceptKeywords(r) => json!({ "except": r.strings }),
        MatchValue::ExceptIntegers(r) => json!({ "except": r.integers }),
        MatchValue::Prefix(_) => return Err(unimplemented("the prefix match condition")),
        MatchValue::Substring(_) => return Err(unimplemented("the substring match condition")),
    })
}

// ---------------------------------------------------------------------------------------------
// Payload and vector selectors

pub fn with_payload_from_proto(
    selector: Option<pb::WithPayloadSelector>,
) -> Result<Option<edge::WithPayloadInterface>, Status> {
    use pb::with_payload_selector::SelectorOptions;
    let Some(selector) = selector else {
        return Ok(None);
    };
    let paths = |fields: Vec<String>| -> Result<Vec<edge::JsonPath>, Status> {
        fields.iter().map(|f| json_path(f)).collect()
    };
    Ok(Some(match selector.selector_options {
        Some(SelectorOptions::Enable(b)) => edge::WithPayloadInterface::Bool(b),
        Some(SelectorOptions::Include(s)) => edge::WithPayloadInterface::Selector(
            edge::PayloadSelector::Include(edge::PayloadSelectorInclude::new(paths(s.fields)?)),
        ),
        Some(SelectorOptions::Exclude(s)) => edge::WithPayloadInterface::Selector(
            edge::PayloadSelector::Exclude(edge::PayloadSelectorExclude::new(paths(s.fields)?)),
        ),
        None => return Err(Status::invalid_argument("No PayloadSelector")),
    }))
}

pub fn with_vector_from_proto(selector: Option<pb::WithVectorsSelector>) -> edge::WithVector {
    use pb::with_vectors_selector::SelectorOptions;
    match selector.and_then(|s| s.selector_options) {
        Some(SelectorOptions::Enable(b)) => edge::WithVector::Bool(b),
        Some(SelectorOptions::Include(s)) => edge::WithVector::Selector(s.names),
        None => edge::WithVector::Bool(false),
    }
}

pub fn search_params_from_proto(
    params: Option<pb::SearchParams>,
) -> Result<Option<edge::SearchParams>, Status> {
    let Some(pb::SearchParams {
        hnsw_ef,
        exact,
        quantization,
        indexed_only,
        acorn,
        idf,
    }) = params
    else {
        return Ok(None);
    };
    if idf.is_some() {
        return Err(unimplemented("search params `idf` (sparse vectors)"));
    }
    let mut out = Map::new();
    if let Some(ef) = hnsw_ef {
        out.insert("hnsw_ef".into(), json!(ef));
    }
    if let Some(exact) = exact {
        out.insert("exact".into(), json!(exact));
    }
    if let Some(indexed_only) = indexed_only {
        out.insert("indexed_only".into(), json!(indexed_only));
    }
    if let Some(pb::QuantizationSearchParams {
        ignore,
        rescore,
        oversampling,
    }) = quantization
    {
        let mut q = Map::new();
        if let Some(v) = ignore {
            q.insert("ignore".into(), json!(v));
        }
        if let Some(v) = rescore {
            q.insert("rescore".into(), json!(v));
        }
        if let Some(v) = oversampling {
            q.insert("oversampling".into(), number(v, "oversampling")?);
        }
        out.insert("quantization".into(), Json::Object(q));
    }
    if let Some(pb::AcornSearchParams {
        enable,
        max_selectivity,
    }) = acorn
    {
        let mut a = Map::new();
        if let Some(v) = enable {
            a.insert("enable".into(), json!(v));
        }
        if let Some(v) = max_selectivity {
            a.insert("max_selectivity".into(), number(v, "max_selectivity")?);
        }
        out.insert("acorn".into(), Json::Object(a));
    }
    serde_json::from_value(Json::Object(out))
        .map(Some)
        .map_err(|e| Status::invalid_argument(format!("Wrong input: malformed search params: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Vectors

/// A dense vector from a `Vector` message: the `vector` oneof, else the deprecated `data` field.
pub fn dense_from_vector(v: pb::Vector, name: &str) -> Result<Vec<f32>, Status> {
    use pb::vector::Vector as V;
    #[allow(deprecated)]
    let pb::Vector {
        data,
        indices,
        vectors_count,
        vector,
    } = v;
    match vector {
        Some(V::Dense(d)) => Ok(d.data),
        Some(V::Sparse(_)) => Err(unimplemented(format!("sparse vectors (vector `{name}`)"))),
        Some(V::MultiDense(_)) => Err(unimplemented(format!("multi vectors (vector `{name}`)"))),
        Some(V::Document(_) | V::Image(_) | V::Object(_)) => Err(unimplemented(format!(
            "inference of documents, images or objects (vector `{name}`)"
        ))),
        None if indices.is_some() => Err(unimplemented(format!("sparse vectors (vector `{name}`)"))),
        None if vectors_count.is_some() => Err(unimplemented(format!("multi vectors (vector `{name}`)"))),
        None => Ok(data),
    }
}

/// The vectors of a point, by name; an unnamed vector is the default vector `""`.
pub fn vectors_from_proto(vectors: Option<pb::Vectors>) -> Result<Vec<(String, Vec<f32>)>, Status> {
    use pb::vectors::VectorsOptions;
    match vectors.and_then(|v| v.vectors_options) {
        None => Ok(Vec::new()),
        Some(VectorsOptions::Vector(v)) => Ok(vec![(String::new(), dense_from_vector(v, "")?)]),
        Some(VectorsOptions::Vectors(named)) => named
            .vectors
            .into_iter()
            .map(|(name, v)| dense_from_vector(v, &name).map(|d| (name, d)))
            .collect(),
    }
}

#[allow(deprecated)] // the `VectorOutput` fields the real server leaves empty
fn vector_output(v: edge::VectorInternal) -> pb::VectorOutput {
    use pb::vector_output::Vector as V;
    let vector = match v {
        edge::VectorInternal::Dense(data) => V::Dense(pb::DenseVector { data }),
        edge::VectorInternal::Sparse(s) => V::Sparse(pb::SparseVector {
            values: s.values,
            indices: s.indices,
        }),
        edge::VectorInternal::MultiDense(m) => V::MultiDense(pb::MultiDenseVector {
            vectors: m
                .into_multi_vectors()
                .into_iter()
                .map(|data| pb::DenseVector { data })
                .collect(),
        }),
    };
    // As the real server (`api::conversions::vectors`): the deprecated fields stay empty.
    pb::VectorOutput {
        data: Vec::new(),
        indices: None,
        vectors_count: None,
        vector: Some(vector),
    }
}

/// A point's vectors as the real server returns them: named ones as a map, the default
/// (unnamed) vector of a single-vector collection as a plain vector.
pub fn vectors_output(v: Option<edge::VectorStructInternal>) -> Option<pb::VectorsOutput> {
    use pb::vectors_output::VectorsOptions;
    let options = match v? {
        edge::VectorStructInternal::Single(data) => {
            VectorsOptions::Vector(vector_output(edge::VectorInternal::Dense(data)))
        }
        edge::VectorStructInternal::MultiDense(m) => {
            VectorsOptions::Vector(vector_output(edge::VectorInternal::MultiDense(m)))
        }
        edge::VectorStructInternal::Named(mut map) => {
            if map.len() == 1
                && let Some(default) = map.remove(edge::DEFAULT_VECTOR_NAME)
            {
                VectorsOptions::Vector(vector_output(default))
            } else {
                VectorsOptions::Vectors(pb::NamedVectorsOutput {
                    vectors: map
                        .into_iter()
                        .map(|(name, v)| (name, vector_output(v)))
                        .collect(),
                })
            }
        }
    };
    Some(pb::VectorsOutput {
        vectors_options: Some(options),
    })
}

// ---------------------------------------------------------------------------------------------
// Results

pub fn scored_point(p: edge::ScoredPoint) -> pb::ScoredPoint {
    pb::ScoredPoint {
        id: Some(point_id_to_proto(p.id)),
        payload: payload_to_proto(p.payload),
        score: p.score,
        version: p.version,
        vectors: vectors_output(p.vector),
        shard_key: None,
        order_value: None,
    }
}

pub fn retrieved_point(r: edge::Record) -> pb::RetrievedPoint {
    pb::RetrievedPoint {
        id: Some(point_id_to_proto(r.id)),
        payload: payload_to_proto(r.payload),
        vectors: vectors_output(r.vector),
        shard_key: None,
        order_value: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::{Condition, Filter, Range};

    fn parse(f: Filter) -> edge::Filter {
        filter_from_proto(Some(f)).unwrap().unwrap()
    }

    #[test]
    fn payload_round_trips() {
        let j = json!({"a": 1, "b": 2.5, "c": "x", "d": [true, null], "e": {"f": -3}});
        let proto: HashMap<String, pb::Value> = match j.clone() {
            Json::Object(m) => m.into_iter().map(|(k, v)| (k, json_to_proto(v))).collect(),
            _ => unreachable!(),
        };
        let back = Json::Object(proto_map_to_json(proto).unwrap());
        assert_eq!(back, j);
    }

    #[test]
    fn filters_translate_to_edge() {
        let f = Filter {
            must: vec![
                Condition::matches("kind", "photo".to_string()),
                Condition::matches("dirs", vec!["/a".to_string(), "/b".to_string()]),
                Condition::range(
                    "date_ts",
                    Range {
                        gte: Some(10.0),
                        lt: Some(20.0),
                        ..Default::default()
                    },
                ),
                Condition::has_id([pb::PointId::from(7u64)]),
                Condition::is_empty("tags"),
                Filter::should([Condition::matches("n", 3i64), Condition::is_null("z")]).into(),
            ],
            must_not: vec![Condition::matches("flag", true)],
            min_should: Some(pb::MinShould {
                conditions: vec![Condition::matches("k", "v".to_string())],
                min_count: 1,
            }),
            ..Default::default()
        };
        let edge = parse(f);
        assert_eq!(edge.must.as_ref().map(Vec::len), Some(6));
        assert_eq!(edge.must_not.as_ref().map(Vec::len), Some(1));
        assert_eq!(edge.min_should.as_ref().map(|m| m.min_count), Some(1));
    }

    #[test]
    fn unsupported_and_malformed_conditions_are_refused() {
        let prefix = Filter::must([Condition::matches_prefix("k", "pre")]);
        let err = filter_from_proto(Some(prefix)).unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unimplemented);
        assert!(err.message().contains("prefix"));

        let empty_field = Filter::must([Condition {
            condition_one_of: Some(ConditionOneOf::Field(pb::FieldCondition {
                key: "k".into(),
                ..Default::default()
            })),
        }]);
        let err = filter_from_proto(Some(empty_field)).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);

        let bad_uuid = Filter::must([Condition::has_id([pb::PointId::from("not-a-uuid")])]);
        let err = filter_from_proto(Some(bad_uuid)).unwrap_err();
        assert_eq!(err.message(), "Unable to parse UUID: not-a-uuid");
    }

    #[test]
    fn datetime_ranges_become_rfc3339() {
        let f = Filter::must([Condition::datetime_range(
            "at",
            pb::DatetimeRange {
                gte: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 0,
                }),
                ..Default::default()
            },
        )]);
        let j = filter_json(f).unwrap();
        assert_eq!(j["must"][0]["range"]["gte"], json!("2023-11-14T22:13:20Z"));
        let _: edge::Filter = serde_json::from_value(j).unwrap();
    }
}
