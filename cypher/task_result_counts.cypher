// Number of results of each of the given tasks.
// $tasks: task names.
MATCH (t:Task) WHERE t.name IN $tasks
CALL (t) { MATCH (t)<-[r:RESULT]-() RETURN count(r) AS n }
RETURN t.name AS task, n AS results
