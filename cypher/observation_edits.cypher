// The edits touching some architectures, with every stored result of a task at both ends
// (to recompute that task's gains after new observations; see kb/observations.py).
// $uids: architecture uids; $task: task name. Seeds are read from properties(r): a store
// that never held them gives 0, without Neo4j's unknown-property warning.
UNWIND $uids AS uid
MATCH (:Architecture {uid: uid})-[e:EDIT]-(:Architecture)
WITH DISTINCT e
MATCH (s:Architecture)-[e]->(t:Architecture)
CALL (s) {
  OPTIONAL MATCH (s)-[r:RESULT]->(:Task {name: $task})
  RETURN collect([r.source, r.score, coalesce(properties(r).seeds, 0)]) AS from_results
}
CALL (t) {
  OPTIONAL MATCH (t)-[r:RESULT]->(:Task {name: $task})
  RETURN collect([r.source, r.score, coalesce(properties(r).seeds, 0)]) AS to_results
}
RETURN elementId(e) AS id, from_results, to_results
