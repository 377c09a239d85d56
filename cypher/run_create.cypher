// Create a refinement run (status `running`) linked to its target task.
// $id: run id; $task: target task; $space: design space; $budget: evaluations;
// $evaluator: evaluator name; $config: the RefineConfig as JSON text;
// $name: the run's name (or null); $tags: its tags as "key=value" strings.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (t:Task {name: $task})
CREATE (r:RefineRun {id: $id, task: $task, space: $space, budget: $budget,
                     evaluator: $evaluator, config: $config, status: 'running',
                     name: $name, tags: $tags,
                     spent: 0, started: datetime(), updated: datetime()})
CREATE (r)-[:TARGET]->(t)
RETURN r.id AS id
