// Refinement runs, newest first.
// $limit: how many.
MATCH (r:RefineRun)
RETURN r.id AS id, r.task AS task, r.status AS status, r.budget AS budget,
       r.spent AS spent, r.best_uid AS best_uid, r.best_score AS best_score,
       toString(r.started) AS started
ORDER BY r.started DESC
LIMIT $limit
