// A stored predictor with the spaces it covers and the tasks it was trained on.
// $name: predictor name.
MATCH (p:Predictor {name: $name})
RETURN properties(p) AS props,
       COLLECT { MATCH (p)-[:COVERS]->(s:Space) RETURN s.name } AS spaces,
       COLLECT { MATCH (p)-[:TRAINED_ON]->(t:Task) RETURN t.name } AS tasks
