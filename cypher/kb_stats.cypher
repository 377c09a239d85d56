// Statistics of the knowledge base: counts of architectures, tasks, results, edits and
// stored gains, per space and per task (the per-task counts are kept on the Task nodes
// by the importers and the evidence builder).
// public
CALL () { MATCH (a:Architecture) RETURN count(a) AS architectures }
CALL () { MATCH (t:Task) RETURN count(t) AS tasks, sum(coalesce(t.evidence_edits, 0)) AS gains }
CALL () { MATCH ()-[r:RESULT]->() RETURN count(r) AS results }
CALL () { MATCH ()-[e:EDIT]->() RETURN count(e) AS edits }
CALL () {
  MATCH (s:Space)
  RETURN collect({name: s.name, architectures: coalesce(s.architectures, 0),
                  edits: coalesce(s.edits, 0), dimensions: s.dimensions}) AS spaces
}
CALL () {
  MATCH (t:Task)
  WITH t ORDER BY t.name
  RETURN collect(t {.*}) AS task_list
}
RETURN architectures, tasks, results, edits, gains, spaces, task_list
