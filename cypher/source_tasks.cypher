// The tasks with results in a design space, other than the target, with their
// properties (kind, metric, meta-features `mf_*`): the candidate sources of refinement.
// $space: space name; $target: the target task's name.
MATCH (t:Task)
WHERE t.name <> $target
  AND EXISTS { MATCH (t)<-[:RESULT]-(a:Architecture) WHERE a.space = $space }
RETURN t {.*} AS task
ORDER BY t.name
