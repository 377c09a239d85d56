// Refinement runs, newest first, with their best result's validation and test scores
// and how long they ran (seconds, until finished or last updated).
// $limit: how many; $task, $name, $status: only runs with that target task, name or
// status (null: any); $tags: only runs holding every one of these "key=value" tags.
// public
// defaults: limit=50, task=null, name=null, status=null, tags=[]
// bounds: limit=1..100000
MATCH (r:RefineRun)
WHERE ($task IS NULL OR r.task = $task) AND ($name IS NULL OR r.name = $name)
  AND ($status IS NULL OR r.status = $status)
  AND all(tag IN $tags WHERE tag IN coalesce(r.tags, []))
WITH r ORDER BY r.started DESC LIMIT toInteger($limit)
OPTIONAL MATCH (r)-[:HAS_STEP]->(s:RefineStep)
WHERE s.uid = r.best_uid
WITH r, head(collect(s)) AS best
RETURN r.id AS id, r.name AS name, r.task AS task, r.evaluator AS evaluator,
       r.status AS status, r.budget AS budget, r.spent AS spent, r.best_uid AS best_uid,
       r.best_score AS best_score, best.valid AS best_valid, best.test AS best_test,
       duration.inSeconds(r.started, coalesce(r.finished, r.updated)).seconds AS seconds,
       toString(r.started) AS started, coalesce(r.tags, []) AS tags
ORDER BY r.started DESC
