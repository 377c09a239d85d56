// The results of one task on a space's architectures, as parallel lists (one row).
// $space: space name; $task: task name.
MATCH (t:Task {name: $task})<-[r:RESULT]-(a:Architecture {space: $space})
RETURN collect(a.uid) AS uids, collect(r.source) AS sources, collect(r.score) AS scores,
       collect(coalesce(r.seeds, 0)) AS seeds
