// Store one run of the architecture generator with its provenance, in one transaction:
// the :Generation node, FOR its task, BY the generator (a :Predictor {type: 'generator'}),
// and PROPOSED (rank, predicted score, round, guidance scale) each architecture, which is
// created when the knowledge base has none.
// $id, $task (name or null), $generator (name), $props (map), $rows: [{uid, props: {space,
// key, <dimension>: choice ...}, rank, predicted, round, scale}].
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MERGE (g:Generation {id: $id})
SET g += $props, g.task = $task, g.generator = $generator
WITH g
CALL (g) {
  MATCH (t:Task {name: $task})
  MERGE (g)-[:FOR]->(t)
}
CALL (g) {
  MATCH (p:Predictor {name: $generator})
  MERGE (g)-[:BY]->(p)
}
CALL (g) {
  UNWIND $rows AS row
  MERGE (a:Architecture {uid: row.uid})
  ON CREATE SET a += row.props
  MERGE (g)-[r:PROPOSED]->(a)
  SET r.rank = row.rank, r.predicted = row.predicted, r.round = row.round,
      r.scale = row.scale
}
RETURN g.id AS id
