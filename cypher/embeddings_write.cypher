// Store architecture embeddings (a predictor's encoder output) as node properties.
// $rows: [{uid, embedding: [float], predictor}].
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
UNWIND $rows AS row
MATCH (a:Architecture {uid: row.uid})
SET a.embedding = row.embedding, a.embedding_predictor = row.predictor
