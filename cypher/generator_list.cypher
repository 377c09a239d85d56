// Every stored architecture generator, newest first, with the tasks its guide learned
// from and the generations it made.
MATCH (p:Predictor {type: 'generator'})
RETURN p.name AS name, p.created AS created,
       COLLECT { MATCH (p)-[:COVERS]->(s:Space) RETURN s.name } AS spaces,
       size(COLLECT { MATCH (p)-[:TRAINED_ON]->(t:Task) RETURN t.name }) AS tasks,
       COUNT { (:Generation)-[:BY]->(p) } AS generations,
       p.path AS path
ORDER BY created DESC
