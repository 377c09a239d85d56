// The architectures the generator proposed for a task, newest generation first, with their
// provenance and, where the knowledge base has one, the task's stored result.
// $task: task name; $limit: generations.
// public
// defaults: limit=10
// bounds: limit=1..100000
MATCH (g:Generation {task: $task})
WITH g ORDER BY g.created DESC LIMIT toInteger($limit)
MATCH (g)-[p:PROPOSED]->(a:Architecture)
OPTIONAL MATCH (a)-[r:RESULT]->(:Task {name: $task})
WITH g, p, a, max(r.score) AS score
RETURN g.id AS generation, g.created AS created, g.generator AS generator,
       p.rank AS rank, a.uid AS uid, p.predicted AS predicted, p.round AS round,
       p.scale AS scale, score
ORDER BY created DESC, generation, rank
