//! The loopback against the real `qdrant-client`.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use loupe_qdrant_loopback::{Loopback, Options};
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType, Filter, GetPointsBuilder, PayloadIncludeSelector, PointId,
    PointStruct, Query, QueryPointsBuilder, Range, RecommendInputBuilder, RecommendPointsBuilder,
    ScoredPoint, ScrollPointsBuilder, SearchPointsBuilder, SetPayloadPointsBuilder, UpdateCollectionBuilder,
    UpsertPointsBuilder, Value, VectorParamsBuilder, VectorsConfigBuilder, point_id::PointIdOptions,
    vector_output,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use qdrant_edge as edge;
use qdrant_edge::external::serde_json::{self as sj, json};
use tonic::Code;

const COLLECTION: &str = "media";
const KINDS: [&str; 3] = ["photo", "video", "page"];

/// One runtime per test: a client's connections live on the runtime that opened them.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn connect(server: &Loopback) -> Qdrant {
    Qdrant::from_url(&server.url()).build().unwrap()
}

fn status(e: QdrantError) -> tonic::Status {
    match e {
        QdrantError::ResponseError { status } => status,
        other => panic!("expected a gRPC status, got {other:?}"),
    }
}

/// Deterministic test data: (id, visual, text, payload).
struct Item {
    id: u64,
    visual: Vec<f32>,
    text: Vec<f32>,
    kind: &'static str,
    dirs: Vec<String>,
    date_ts: i64,
    flag: bool,
}

fn items(n: u64) -> Vec<Item> {
    (0..n)
        .map(|i| {
            let f = i as f32;
            Item {
                id: i + 1,
                visual: vec![(f * 0.37).sin(), (f * 0.11).cos(), 0.1 + (i % 5) as f32],
                text: vec![(f * 0.23).cos(), 1.0 + (f * 0.05).sin()],
                kind: KINDS[(i % 3) as usize],
                dirs: vec!["/".into(), format!("/d{}", i % 4)],
                date_ts: 1_000 + (i as i64) * 10,
                flag: i % 2 == 0,
            }
        })
        .collect()
}

fn point(item: &Item) -> PointStruct {
    let vectors: HashMap<String, Vec<f32>> = HashMap::from([
        ("visual".to_string(), item.visual.clone()),
        ("text".to_string(), item.text.clone()),
    ]);
    let mut payload = Payload::new();
    payload.insert("kind", item.kind);
    payload.insert("dirs", Value::from(item.dirs.clone()));
    payload.insert("date_ts", item.date_ts);
    payload.insert("flag", item.flag);
    PointStruct::new(item.id, vectors, payload)
}

fn edge_point(item: &Item) -> edge::PointStructPersisted {
    let vectors = edge::Vectors::new_named([
        ("visual", edge::Vector::new_dense(item.visual.clone())),
        ("text", edge::Vector::new_dense(item.text.clone())),
    ]);
    edge::PointStruct::new(
        edge::PointId::NumId(item.id),
        vectors,
        json!({"kind": item.kind, "dirs": item.dirs, "date_ts": item.date_ts, "flag": item.flag}),
    )
    .into()
}

const INDEXES: [(&str, FieldType, edge::PayloadSchemaType); 4] = [
    ("kind", FieldType::Keyword, edge::PayloadSchemaType::Keyword),
    ("dirs", FieldType::Keyword, edge::PayloadSchemaType::Keyword),
    ("date_ts", FieldType::Integer, edge::PayloadSchemaType::Integer),
    ("flag", FieldType::Bool, edge::PayloadSchemaType::Bool),
];

async fn create_media(client: &Qdrant) {
    let mut vectors = VectorsConfigBuilder::default();
    vectors.add_named_vector_params("visual", VectorParamsBuilder::new(3, Distance::Cosine));
    vectors.add_named_vector_params("text", VectorParamsBuilder::new(2, Distance::Cosine));
    let metadata = HashMap::from([("schema".to_string(), Value::from(3i64))]);
    // `CreateCollectionBuilder::metadata` needs qdrant-client's `serde` feature; set the field.
    let mut request = CreateCollectionBuilder::new(COLLECTION)
        .vectors_config(vectors)
        .build();
    request.metadata = metadata;
    client.create_collection(request).await.unwrap();
    for (field, ty, _) in INDEXES {
        client
            .create_field_index(CreateFieldIndexCollectionBuilder::new(COLLECTION, field, ty).wait(true))
            .await
            .unwrap();
    }
}

async fn upsert_items(client: &Qdrant, items: &[Item], wait: bool) {
    let points: Vec<PointStruct> = items.iter().map(point).collect();
    client
        .upsert_points(UpsertPointsBuilder::new(COLLECTION, points).wait(wait))
        .await
        .unwrap();
}

/// The same data written straight into an Edge shard, to compare against.
fn edge_shard(dir: &Path, items: &[Item]) -> edge::EdgeShard {
    let params = |size| edge::EdgeVectorParams {
        size,
        distance: edge::Distance::Cosine,
        on_disk: None,
        multivector_config: None,
        datatype: None,
        quantization_config: None,
        hnsw_config: None,
    };
    let config = edge::EdgeConfig {
        vectors: HashMap::from([("visual".to_string(), params(3)), ("text".to_string(), params(2))]),
        ..edge::EdgeConfig::default()
    };
    std::fs::create_dir_all(dir).unwrap();
    let shard = edge::EdgeShard::new(dir, config).unwrap();
    for (field, _, ty) in INDEXES {
        shard
            .update(edge::UpdateOperation::FieldIndexOperation(
                edge::FieldIndexOperations::CreateIndex(edge::CreateIndex {
                    field_name: field.try_into().unwrap(),
                    field_schema: Some(edge::PayloadFieldSchema::FieldType(ty)),
                }),
            ))
            .unwrap();
    }
    shard
        .update(edge::UpdateOperation::PointOperation(
            edge::PointOperations::UpsertPoints(edge::PointInsertOperations::PointsList(
                items.iter().map(edge_point).collect(),
            )),
        ))
        .unwrap();
    shard
}

fn num_id(id: &Option<PointId>) -> u64 {
    match id.as_ref().and_then(|i| i.point_id_options.as_ref()) {
        Some(PointIdOptions::Num(n)) => *n,
        other => panic!("expected a numeric id, got {other:?}"),
    }
}

fn edge_num_id(id: &edge::PointId) -> u64 {
    match id {
        edge::PointId::NumId(n) => *n,
        edge::PointId::Uuid(u) => panic!("unexpected uuid {u}"),
    }
}

fn assert_same_hits(grpc: &[ScoredPoint], edge: &[edge::ScoredPoint]) {
    let a: Vec<(u64, f32)> = grpc.iter().map(|p| (num_id(&p.id), p.score)).collect();
    let b: Vec<(u64, f32)> = edge.iter().map(|p| (edge_num_id(&p.id), p.score)).collect();
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for ((ia, sa), (ib, sb)) in a.iter().zip(&b) {
        assert_eq!(ia, ib, "{a:?} vs {b:?}");
        assert!((sa - sb).abs() < 1e-6, "{a:?} vs {b:?}");
    }
}

fn edge_filter(j: sj::Value) -> edge::Filter {
    sj::from_value(j).unwrap()
}

#[test]
fn round_trip_matches_edge() {
    let dir = tempfile::tempdir().unwrap();
    let server = Loopback::start(&dir.path().join("server")).unwrap();
    let data = items(40);
    let shard = edge_shard(&dir.path().join("edge"), &data);
    let client = connect(&server);
    runtime().block_on(async {
        create_media(&client).await;
        upsert_items(&client, &data, true).await;

        // Query with a filter, through Query and through the deprecated Search.
        let query_vec = vec![0.3, 0.9, 1.2];
        let grpc_filter = Filter::must([
            Condition::matches("kind", vec!["photo".to_string(), "page".to_string()]),
            Condition::range(
                "date_ts",
                Range {
                    gte: Some(1_050.0),
                    lt: Some(1_300.0),
                    ..Default::default()
                },
            ),
        ]);
        let json_filter = json!({"must": [
            {"key": "kind", "match": {"any": ["photo", "page"]}},
            {"key": "date_ts", "range": {"gte": 1050.0, "lt": 1300.0}},
        ]});
        let hits = client
            .query(
                QueryPointsBuilder::new(COLLECTION)
                    .query(Query::new_nearest(query_vec.clone()))
                    .using("visual")
                    .filter(grpc_filter.clone())
                    .limit(7)
                    .with_payload(true),
            )
            .await
            .unwrap()
            .result;
        let expected = shard
            .search(edge::SearchRequest {
                query: edge::QueryEnum::Nearest(edge::NamedQuery {
                    query: edge::VectorInternal::Dense(query_vec.clone()),
                    using: Some("visual".into()),
                }),
                filter: Some(edge_filter(json_filter.clone())),
                params: None,
                limit: 7,
                offset: 0,
                with_payload: None,
                with_vector: None,
                score_threshold: None,
            })
            .unwrap();
        assert_eq!(hits.len(), 7);
        assert_same_hits(&hits, &expected);
        for hit in &hits {
            let kind = hit.get("kind").as_str().unwrap().clone();
            assert!(kind == "photo" || kind == "page", "{kind}");
        }

        let searched = client
            .search_points(
                SearchPointsBuilder::new(COLLECTION, query_vec.clone(), 7)
                    .vector_name("visual")
                    .filter(grpc_filter.clone()),
            )
            .await
            .unwrap()
            .result;
        assert_same_hits(&searched, &expected);

        // Offset and score threshold.
        let page2 = client
            .query(
                QueryPointsBuilder::new(COLLECTION)
                    .query(Query::new_nearest(query_vec.clone()))
                    .using("visual")
                    .limit(3)
                    .offset(2)
                    .score_threshold(0.5),
            )
            .await
            .unwrap()
            .result;
        let expected2 = shard
            .search(edge::SearchRequest {
                query: edge::QueryEnum::Nearest(edge::NamedQuery {
                    query: edge::VectorInternal::Dense(query_vec),
                    using: Some("visual".into()),
                }),
                filter: None,
                params: None,
                limit: 3,
                offset: 2,
                with_payload: None,
                with_vector: None,
                score_threshold: Some(0.5),
            })
            .unwrap();
        assert_same_hits(&page2, &expected2);

        // Count and scroll through the filtered points page by page.
        let count = client
            .count(
                CountPointsBuilder::new(COLLECTION)
                    .filter(grpc_filter.clone())
                    .exact(true),
            )
            .await
            .unwrap()
            .result
            .unwrap()
            .count;
        let edge_count = shard
            .count(edge::CountRequest {
                filter: Some(edge_filter(json_filter)),
                exact: true,
            })
            .unwrap();
        assert_eq!(count as usize, edge_count);
        assert!(count > 7);
        let mut seen = Vec::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut req = ScrollPointsBuilder::new(COLLECTION)
                .filter(grpc_filter.clone())
                .limit(4)
                .with_payload(false);
            if let Some(o) = offset.take() {
                req = req.offset(o);
            }
            let page = client.scroll(req).await.unwrap();
            assert!(page.result.len() <= 4);
            assert!(page.result.iter().all(|p| p.payload.is_empty()));
            seen.extend(page.result.iter().map(|p| num_id(&p.id)));
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len() as u64, count);
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        assert_eq!(seen, sorted, "scroll goes by id");

        // Get points with vectors: the stored (normalised, for Cosine) vectors, named.
        let got = client
            .get_points(
                GetPointsBuilder::new(COLLECTION, vec![PointId::from(3u64), PointId::from(999u64)])
                    .with_vectors(true)
                    .with_payload(true),
            )
            .await
            .unwrap()
            .result;
        assert_eq!(got.len(), 1, "missing ids are skipped");
        let record = shard
            .retrieve(
                &[edge::PointId::NumId(3)],
                Some(edge::WithPayloadInterface::Bool(true)),
                Some(edge::WithVector::Bool(true)),
            )
            .unwrap()
            .remove(0);
        let edge::VectorStructInternal::Named(edge_vectors) = record.vector.unwrap() else {
            panic!("named vectors expected");
        };
        let vectors = got[0].vectors.clone().unwrap();
        for name in ["visual", "text"] {
            let Some(vector_output::Vector::Dense(dense)) = vectors.get_vector_by_name(name) else {
                panic!("dense {name} expected");
            };
            let edge::VectorInternal::Dense(expected) = &edge_vectors[name] else {
                panic!("dense expected");
            };
            assert_eq!(&dense.data, expected);
        }
        assert_eq!(
            got[0].get("kind").as_str().map(String::as_str),
            Some(data[2].kind)
        );
        assert_eq!(got[0].get("date_ts").as_integer(), Some(data[2].date_ts));

        // Payload selector: include one field.
        let got = client
            .get_points(
                GetPointsBuilder::new(COLLECTION, vec![PointId::from(3u64)])
                    .with_payload(PayloadIncludeSelector::new(vec!["kind".to_string()])),
            )
            .await
            .unwrap()
            .result;
        assert_eq!(got[0].payload.keys().collect::<Vec<_>>(), ["kind"]);

        // Set payload by filter, then delete by filter.
        let mut extra = Payload::new();
        extra.insert("album", "summer");
        client
            .set_payload(
                SetPayloadPointsBuilder::new(COLLECTION, extra)
                    .points_selector(Filter::must([Condition::matches("kind", "video".to_string())]))
                    .wait(true),
            )
            .await
            .unwrap();
        let summer = Filter::must([Condition::matches("album", "summer".to_string())]);
        let videos = data.iter().filter(|i| i.kind == "video").count() as u64;
        let n = client
            .count(CountPointsBuilder::new(COLLECTION).filter(summer.clone()))
            .await
            .unwrap()
            .result
            .unwrap()
            .count;
        assert_eq!(n, videos);
        client
            .delete_points(DeletePointsBuilder::new(COLLECTION).points(summer).wait(true))
            .await
            .unwrap();
        let left = client
            .count(CountPointsBuilder::new(COLLECTION))
            .await
            .unwrap()
            .result
            .unwrap()
            .count;
        assert_eq!(left, data.len() as u64 - videos);

        // Collection info: config, indexes, metadata. After writes the collection is yellow while
        // the background optimization runs, then green again.
        let green = qdrant_client::qdrant::CollectionStatus::Green as i32;
        let mut info = client.collection_info(COLLECTION).await.unwrap().result.unwrap();
        assert_eq!(
            info.status,
            qdrant_client::qdrant::CollectionStatus::Yellow as i32
        );
        for _ in 0..200 {
            if info.status == green {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            info = client.collection_info(COLLECTION).await.unwrap().result.unwrap();
        }
        assert_eq!(info.status, green);
        assert_eq!(info.points_count, Some(left));
        let config = info.config.unwrap();
        let Some(qdrant_client::qdrant::vectors_config::Config::ParamsMap(map)) =
            config.params.unwrap().vectors_config.unwrap().config
        else {
            panic!("named vectors expected");
        };
        assert_eq!(map.map["visual"].size, 3);
        assert_eq!(map.map["visual"].distance, Distance::Cosine as i32);
        assert_eq!(config.metadata["schema"].as_integer(), Some(3));
        for (field, _, ty) in INDEXES {
            let schema = &info.payload_schema[field];
            let expected = match ty {
                edge::PayloadSchemaType::Keyword => qdrant_client::qdrant::PayloadSchemaType::Keyword,
                edge::PayloadSchemaType::Integer => qdrant_client::qdrant::PayloadSchemaType::Integer,
                edge::PayloadSchemaType::Bool => qdrant_client::qdrant::PayloadSchemaType::Bool,
                _ => unreachable!(),
            };
            assert_eq!(schema.data_type, expected as i32, "{field}");
        }
        assert!(client.collection_exists(COLLECTION).await.unwrap());
        let names: Vec<String> = client
            .list_collections()
            .await
            .unwrap()
            .collections
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, [COLLECTION]);
        assert!(client.delete_collection(COLLECTION).await.unwrap().result);
        assert!(!client.collection_exists(COLLECTION).await.unwrap());
    });
    // Create, index, upsert, 2 queries, 2 searches... every call went through the counters.
    assert_eq!(server.calls_to("Points/CreateFieldIndex"), INDEXES.len() as u64);
    assert_eq!(server.calls_to("Upsert"), 1);
}

#[test]
fn api_key_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let server = Loopback::start_with(
        dir.path(),
        Options {
            api_key: Some("secret".into()),
            addr: None,
        },
    )
    .unwrap();
    runtime().block_on(async {
        // No key: the health check (made by `build`) passes, everything else is refused.
        let anonymous = connect(&server);
        assert!(anonymous.health_check().await.is_ok());
        let st = status(anonymous.list_collections().await.unwrap_err());
        assert_eq!(st.code(), Code::Unauthenticated);
        assert_eq!(
            st.message(),
            "Must provide an API key or an Authorization bearer token"
        );

        let wrong = Qdrant::from_url(&server.url()).api_key("guess").build().unwrap();
        let st = status(wrong.list_collections().await.unwrap_err());
        assert_eq!(st.code(), Code::Unauthenticated);
        assert_eq!(st.message(), "Invalid API key or JWT");

        let right = Qdrant::from_url(&server.url()).api_key("secret").build().unwrap();
        create_media(&right).await;
        assert!(right.collection_exists(COLLECTION).await.unwrap());

        let bearer = Qdrant::from_url(&server.url())
            .skip_compatibility_check()
            .build()
            .unwrap()
            .with_header("authorization", "Bearer secret");
        assert!(bearer.collection_exists(COLLECTION).await.unwrap());
    });
}

#[test]
fn injected_faults_fail_exactly_n_calls() {
    let dir = tempfile::tempdir().unwrap();
    let server = Loopback::start(dir.path()).unwrap();
    let client = connect(&server);
    runtime().block_on(async {
        create_media(&client).await;
        upsert_items(&client, &items(5), true).await;
        let count = || async {
            client
                .count(CountPointsBuilder::new(COLLECTION))
                .await
                .map(|r| r.result.unwrap().count)
        };

        // A code the client does not retry: exactly n calls fail, only of that method.
        server.reset_calls();
        server.faults().fail_next(2, Code::Aborted, Some("Points/Count"));
        assert!(client.collection_exists(COLLECTION).await.unwrap());
        for _ in 0..2 {
            let st = status(count().await.unwrap_err());
            assert_eq!(st.code(), Code::Aborted);
            assert!(st.message().contains("Points/Count"), "{}", st.message());
        }
        assert_eq!(count().await.unwrap(), 5);
        assert_eq!(server.calls_to("Count"), 3);
        assert_eq!(server.faults().pending(), 0);

        // `Unavailable` is retried once by the client on a new connection: one failure is
        // absorbed, two are not.
        server.reset_calls();
        server.faults().fail_next(1, Code::Unavailable, None);
        assert_eq!(count().await.unwrap(), 5);
        assert_eq!(server.calls_to("Points/Count"), 2);
        server.faults().fail_next(2, Code::Unavailable, None);
        assert_eq!(status(count().await.unwrap_err()).code(), Code::Unavailable);
        assert_eq!(server.calls_to("Points/Count"), 4);

        // A lost reply: the write is applied, the client sees an error.
        server
            .faults()
            .fail_after_apply_to(1, Code::DeadlineExceeded, Some("Upsert"));
        let more: Vec<PointStruct> = items(8)[5..].iter().map(point).collect();
        let st = status(
            client
                .upsert_points(UpsertPointsBuilder::new(COLLECTION, more).wait(true))
                .await
                .unwrap_err(),
        );
        assert_eq!(st.code(), Code::DeadlineExceeded);
        assert_eq!(count().await.unwrap(), 8);

        // A slow server against a client deadline.
        let impatient = Qdrant::from_url(&server.url())
            .timeout(Duration::from_millis(100))
            .skip_compatibility_check()
            .build()
            .unwrap();
        server.faults().delay(Duration::from_millis(300));
        let started = Instant::now();
        let st = status(
            impatient
                .count(CountPointsBuilder::new(COLLECTION))
                .await
                .unwrap_err(),
        );
        assert!(
            matches!(st.code(), Code::Cancelled | Code::DeadlineExceeded),
            "{st:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(1500));
        server.faults().clear();
        assert_eq!(count().await.unwrap(), 8);
    });
}

#[test]
fn restart_keeps_data_and_clients_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Loopback::start(dir.path()).unwrap();
    let port = server.addr().port();
    let client = connect(&server);
    let rt = runtime();
    let count = |client: &Qdrant| {
        rt.block_on(client.count(CountPointsBuilder::new(COLLECTION)))
            .map(|r| r.result.unwrap().count)
    };
    rt.block_on(async {
        create_media(&client).await;
        // Not waited for: the restart itself must flush it.
        upsert_items(&client, &items(12), false).await;
    });
    assert_eq!(count(&client).unwrap(), 12);

    server.restart().unwrap();
    assert_eq!(server.addr().port(), port);
    assert_eq!(count(&client).unwrap(), 12, "same client, new connection");
    // `Collections` calls are not retried by the client: a stale pooled connection would fail
    // the first one, so ask with a new client.
    let info = rt
        .block_on(connect(&server).collection_info(COLLECTION))
        .unwrap()
        .result
        .unwrap();
    assert_eq!(info.config.unwrap().metadata["schema"].as_integer(), Some(3));
    assert_eq!(info.payload_schema.len(), INDEXES.len());

    server.drop_connections().unwrap();
    assert_eq!(count(&client).unwrap(), 12);

    server.pause();
    assert!(!server.is_serving());
    assert!(count(&client).is_err());
    server.resume().unwrap();
    assert_eq!(count(&client).unwrap(), 12);

    // A new server on the same directory serves the same data.
    drop(client);
    server.stop();
    let server = Loopback::start(dir.path()).unwrap();
    assert_eq!(count(&connect(&server)).unwrap(), 12);
}

#[test]
fn unimplemented_methods_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let server = Loopback::start(dir.path()).unwrap();
    let client = connect(&server);
    runtime().block_on(async {
        create_media(&client).await;
        let st = status(
            client
                .recommend(RecommendPointsBuilder::new(COLLECTION, 3).add_positive(1u64))
                .await
                .unwrap_err(),
        );
        assert_eq!(st.code(), Code::Unimplemented);
        assert!(
            st.message().contains("/qdrant.Points/Recommend"),
            "{}",
            st.message()
        );

        let st = status(
            client
                .update_collection(UpdateCollectionBuilder::new(COLLECTION))
                .await
                .unwrap_err(),
        );
        assert_eq!(st.code(), Code::Unimplemented);
        assert!(st.message().contains("Collections/Update"), "{}", st.message());

        // A query kind and a filter condition the loopback does not do are refused, not ignored.
        let st = status(
            client
                .query(
                    QueryPointsBuilder::new(COLLECTION)
                        .query(Query::new_recommend(
                            RecommendInputBuilder::default().add_positive(1u64),
                        ))
                        .using("visual"),
                )
                .await
                .unwrap_err(),
        );
        assert_eq!(st.code(), Code::Unimplemented);
        assert!(st.message().contains("recommend"), "{}", st.message());
        let st = status(
            client
                .count(
                    CountPointsBuilder::new(COLLECTION)
                        .filter(Filter::must([Condition::matches_prefix("kind", "ph")])),
                )
                .await
                .unwrap_err(),
        );
        assert_eq!(st.code(), Code::Unimplemented);
        assert!(st.message().contains("prefix"), "{}", st.message());
    });
}

#[test]
fn errors_match_the_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Loopback::start(dir.path()).unwrap();
    let client = connect(&server);
    runtime().block_on(async {
        let st = status(client.collection_info("nope").await.unwrap_err());
        assert_eq!(st.code(), Code::NotFound);
        assert_eq!(st.message(), "Not found: Collection `nope` doesn't exist!");
        let st = status(client.count(CountPointsBuilder::new("nope")).await.unwrap_err());
        assert_eq!(st.code(), Code::NotFound);

        create_media(&client).await;
        let mut vectors = VectorsConfigBuilder::default();
        vectors.add_named_vector_params("visual", VectorParamsBuilder::new(3, Distance::Cosine));
        let st = status(
            client
                .create_collection(CreateCollectionBuilder::new(COLLECTION).vectors_config(vectors))
                .await
                .unwrap_err(),
        );
        assert_eq!(st.code(), Code::AlreadyExists);
        assert_eq!(st.message(), "Wrong input: Collection `media` already exists!");

        let wrong_dim = PointStruct::new(
            1u64,
            HashMap::from([("visual".to_string(), vec![1.0f32, 2.0, 3.0, 4.0])]),
            Payload::new(),
        );
        let st = status(
            client
                .upsert_points(UpsertPointsBuilder::new(COLLECTION, vec![wrong_dim]).wait(true))
                .await
                .unwrap_err(),
        );
        assert_eq!(st.code(), Code::InvalidArgument);
        assert_eq!(
            st.message(),
            "Wrong input: Vector dimension error: expected dim: 3, got 4"
        );

        let wrong_name = PointStruct::new(
            1u64,
            HashMap::from([("audio".to_string(), vec![1.0f32, 2.0, 3.0])]),
            Payload::new(),
        );
        let st = status(
            client
                .upsert_points(UpsertPointsBuilder::new(COLLECTION, vec![wrong_name]).wait(true))
                .await
                .unwrap_err(),
        );
        assert_eq!(st.code(), Code::InvalidArgument);
        assert_eq!(st.message(), "Wrong input: Not existing vector name error: audio");

        let st = status(
            client
                .query(
                    QueryPointsBuilder::new(COLLECTION)
                        .query(Query::new_nearest(vec![1.0, 0.0]))
                        .using("visual"),
                )
                .await
                .unwrap_err(),
        );
        assert_eq!(st.code(), Code::InvalidArgument);
        assert_eq!(
            st.message(),
            "Wrong input: Vector dimension error: expected dim: 3, got 2"
        );

        // Nothing was written by the refused upserts.
        let n = client
            .count(CountPointsBuilder::new(COLLECTION))
            .await
            .unwrap()
            .result
            .unwrap()
            .count;
        assert_eq!(n, 0);

        let st = status(
            client
                .create_collection(CreateCollectionBuilder::new("a/b"))
                .await
                .unwrap_err(),
        );
        assert_eq!(st.code(), Code::InvalidArgument);
        assert!(st.message().contains("cannot contain \"/\""), "{}", st.message());
    });
}

#[test]
fn dropped_connections_cut_calls_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Loopback::start(dir.path()).unwrap();
    let client = connect(&server);
    let rt = runtime();
    rt.block_on(create_media(&client));
    server.reset_calls();
    server.faults().delay(Duration::from_millis(300));
    let result = std::thread::scope(|s| {
        let server = &mut server;
        s.spawn(move || {
            // Once the call is being handled (stalled by the delay), drop its connection.
            while server.calls_to("Points/Count") == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
            server.drop_connections().unwrap();
        });
        rt.block_on(client.count(CountPointsBuilder::new(COLLECTION)))
    });
    // The first attempt was cut with its connection; the client retried on a new one.
    assert_eq!(result.unwrap().result.unwrap().count, 0);
    assert_eq!(server.calls_to("Points/Count"), 2);
    assert_eq!(server.calls(), 2);
}

#[test]
fn single_unnamed_vector_collections_work() {
    let dir = tempfile::tempdir().unwrap();
    let server = Loopback::start(dir.path()).unwrap();
    let client = connect(&server);
    runtime().block_on(async {
        client
            .create_collection(
                CreateCollectionBuilder::new("plain")
                    .vectors_config(VectorParamsBuilder::new(2, Distance::Dot)),
            )
            .await
            .unwrap();
        let points = vec![
            PointStruct::new(1u64, vec![1.0f32, 0.0], Payload::new()),
            PointStruct::new(
                "5c56c793-69f3-4fbf-87e6-c4bf54c28c26",
                vec![0.5f32, 0.5],
                Payload::new(),
            ),
        ];
        client
            .upsert_points(UpsertPointsBuilder::new("plain", points).wait(true))
            .await
            .unwrap();
        let hits = client
            .query(
                QueryPointsBuilder::new("plain")
                    .query(Query::new_nearest(vec![0.0, 1.0]))
                    .with_vectors(true),
            )
            .await
            .unwrap()
            .result;
        assert_eq!(hits.len(), 2);
        assert_eq!(
            hits[0].id.as_ref().unwrap().point_id_options,
            Some(PointIdOptions::Uuid(
                "5c56c793-69f3-4fbf-87e6-c4bf54c28c26".into()
            ))
        );
        assert!((hits[0].score - 0.5).abs() < 1e-6);
        let Some(vector_output::Vector::Dense(v)) = hits[0].vectors.as_ref().unwrap().get_vector() else {
            panic!("an unnamed dense vector expected");
        };
        assert_eq!(v.data, [0.5, 0.5]);
    });
}

#[test]
fn usable_from_inside_an_async_context() {
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let mut server = Loopback::start(dir.path()).unwrap();
        let client = Qdrant::from_url(&server.url())
            .skip_compatibility_check()
            .build()
            .unwrap();
        create_media(&client).await;
        upsert_items(&client, &items(3), true).await;
        server.restart().unwrap();
        // A Points call: retried by the client on a new connection.
        let n = client
            .count(CountPointsBuilder::new(COLLECTION))
            .await
            .unwrap()
            .result
            .unwrap()
            .count;
        assert_eq!(n, 3);
        server.stop();
    });
}
