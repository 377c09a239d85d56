// Constraints and indexes of the knowledge base. Idempotent (IF NOT EXISTS);
// `mdesign kb init` runs every statement. See docs/schema.md.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
CREATE CONSTRAINT architecture_uid IF NOT EXISTS
FOR (a:Architecture) REQUIRE a.uid IS UNIQUE
;
CREATE CONSTRAINT task_name IF NOT EXISTS
FOR (t:Task) REQUIRE t.name IS UNIQUE
;
CREATE CONSTRAINT space_name IF NOT EXISTS
FOR (s:Space) REQUIRE s.name IS UNIQUE
;
CREATE CONSTRAINT import_id IF NOT EXISTS
FOR (i:Import) REQUIRE i.id IS UNIQUE
;
CREATE INDEX architecture_space IF NOT EXISTS
FOR (a:Architecture) ON (a.space)
;
// Best-of-task reads go through this composite relationship index. (No index on
// RESULT.source: a source has tens of thousands of results, and the planner would seek
// it inside MERGE instead of expanding from the architecture, making imports quadratic.)
CREATE INDEX result_task_score IF NOT EXISTS
FOR ()-[r:RESULT]-() ON (r.task, r.score)

;
CREATE CONSTRAINT refine_run_id IF NOT EXISTS
FOR (r:RefineRun) REQUIRE r.id IS UNIQUE
;
CREATE CONSTRAINT refine_step_key IF NOT EXISTS
FOR (s:RefineStep) REQUIRE (s.run_id, s.step) IS UNIQUE
;
CREATE CONSTRAINT predictor_name IF NOT EXISTS
FOR (p:Predictor) REQUIRE p.name IS UNIQUE
;
CREATE CONSTRAINT generation_id IF NOT EXISTS
FOR (g:Generation) REQUIRE g.id IS UNIQUE
;
CREATE INDEX generation_task IF NOT EXISTS
FOR (g:Generation) ON (g.task)
