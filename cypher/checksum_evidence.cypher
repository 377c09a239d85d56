// A checksum of one task's evidence and results: counts and sums of gains and scores
// (used to show that an import run twice changed nothing).
// $task: task name.
CALL (){
  MATCH ()-[e:EDIT]->() WHERE e['gain:' + $task] IS NOT NULL
  RETURN count(e) AS gains, sum(e['gain:' + $task]) AS gain_sum
}
CALL () {
  MATCH ()-[r:RESULT]->(:Task {name: $task})
  RETURN count(r) AS results, sum(r.score) AS score_sum
}
RETURN gains, gain_sum, results, score_sum
