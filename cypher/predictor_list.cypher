// Every stored predictor, newest first.
MATCH (p:Predictor)
RETURN p.name AS name, coalesce(p.type, 'performance') AS type, p.created AS created,
       p.path AS path,
       COLLECT { MATCH (p)-[:COVERS]->(s:Space) RETURN s.name } AS spaces,
       COLLECT { MATCH (p)-[:TRAINED_ON]->(t:Task) RETURN t.name } AS tasks
ORDER BY created DESC
