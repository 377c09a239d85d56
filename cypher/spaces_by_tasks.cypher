// Design spaces ordered by how many tasks have results in them (most first): where a
// target without results of its own is refined by default.
// public
MATCH (s:Space)
CALL (s) {
  MATCH (t:Task) WHERE EXISTS { MATCH (t)<-[:RESULT]-(a:Architecture) WHERE a.space = s.name }
  RETURN count(t) AS tasks
}
RETURN s.name AS space, tasks
ORDER BY tasks DESC, space
