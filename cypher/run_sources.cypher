// Record the sources a run retrieved: (run)-[:SOURCE {rank, similarity, weight}]->(task).
// $id: run id; $sources: [{task, similarity, weight, feature_similarity, anchor_tau}].
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (r:RefineRun {id: $id})
SET r.sources = [s IN $sources | s.task]
WITH r
UNWIND range(0, size($sources) - 1) AS i
WITH r, i, $sources[i] AS s
MATCH (t:Task {name: s.task})
MERGE (r)-[e:SOURCE]->(t)
SET e.rank = i, e.similarity = s.similarity, e.weight = s.weight,
    e.feature_similarity = s.feature_similarity, e.anchor_tau = s.anchor_tau
