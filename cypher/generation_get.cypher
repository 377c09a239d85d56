// One stored generation with its provenance: the task it was for, the generator that made
// it (and the tasks that generator's guide learned from), its settings and counts.
// $id: generation id.
MATCH (g:Generation {id: $id})
OPTIONAL MATCH (g)-[:FOR]->(t:Task)
OPTIONAL MATCH (g)-[:BY]->(p:Predictor)
RETURN g.id AS id, t.name AS task, p.name AS generator, p.path AS checkpoint,
       COLLECT { MATCH (p)-[:TRAINED_ON]->(s:Task) RETURN s.name ORDER BY s.name }
         AS guide_tasks,
       g.created AS created, g.seed AS seed, g.guided AS guided, g.samples AS samples,
       g.valid AS valid, g.unique AS unique, g.seconds AS seconds, g.version AS version,
       g.settings AS settings,
       COUNT { (g)-[:PROPOSED]->() } AS proposed
