// The results of one task on a space's architectures, as parallel lists (one row).
// $space: space name; $task: task name. Seeds are read from properties(r): a store that
// never held them gives 0, without Neo4j's unknown-property warning.
MATCH (t:Task {name: $task})<-[r:RESULT]-(a:Architecture {space: $space})
RETURN collect(a.uid) AS uids, collect(r.source) AS sources, collect(r.score) AS scores,
       collect(coalesce(properties(r).seeds, 0)) AS seeds
