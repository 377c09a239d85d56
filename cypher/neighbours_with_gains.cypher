// The neighbours of an architecture (one edit away) with the gain of the edit on each
// of a list of tasks: gain = score(neighbour) - score(architecture), null where the task
// has no evidence for that edit. An edit is stored once, from the architecture whose
// representation describes it (`dimension`, `from_choice`, `to_choice`); walking it
// backwards swaps the choices and negates the gain.
// $uid: architecture uid (space/key); $tasks: list of task names.
// public
MATCH (c:Architecture {uid: $uid})-[e:EDIT]-(m:Architecture)
WITH c, e, m, startNode(e) = c AS forward
RETURN m.uid AS uid, m.key AS key, e.dimension AS dimension,
       CASE WHEN forward THEN e.from_choice ELSE e.to_choice END AS from_choice,
       CASE WHEN forward THEN e.to_choice ELSE e.from_choice END AS to_choice,
       [t IN $tasks | {task: t,
                       gain: CASE WHEN forward THEN e['gain:' + t] ELSE -e['gain:' + t] END}]
         AS gains
ORDER BY uid
